# A scripted ACP agent for the client's tests: `python3 peer_script.py <scenario>`.
import json
import subprocess
import sys
import time

scenario = sys.argv[1]
asked = [100]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def receive():
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


def respond(request, result):
    send({"jsonrpc": "2.0", "id": request["id"], "result": result})


def ask(method, params):
    asked[0] += 1
    send({"jsonrpc": "2.0", "id": asked[0], "method": method, "params": params})
    while True:
        message = receive()
        if message.get("id") == asked[0] and "method" not in message:
            return message


def update(update):
    send({"jsonrpc": "2.0", "method": "session/update",
          "params": {"sessionId": "s1", "update": update}})


def permission(kind, title, raw):
    answer = ask("session/request_permission", {
        "sessionId": "s1",
        "toolCall": {"toolCallId": title, "kind": kind, "title": title, "rawInput": raw},
        "options": [
            {"optionId": "yes", "name": "Allow", "kind": "allow_once"},
            {"optionId": "no", "name": "Reject", "kind": "reject_once"},
        ],
    })
    return answer["result"]["outcome"].get("optionId")


if scenario == "garbage":
    for number in range(40):
        print(f"loading plugin {number}", flush=True)
    time.sleep(60)

initialize = receive()
if scenario == "hang":
    sleeper = subprocess.Popen(["sleep", "600"])
    with open("sleeper.pid", "w") as file:
        file.write(str(sleeper.pid))
    time.sleep(600)
respond(initialize, {"protocolVersion": 1, "agentCapabilities": {},
                     "agentInfo": {"name": "scripted-acp"}})
new_session = receive()
cwd = new_session["params"]["cwd"]
respond(new_session, {"sessionId": "s1"})
with open("mcp-servers.json", "w") as file:
    json.dump(new_session["params"]["mcpServers"], file)
prompt = receive()
notes = []

if scenario == "write":
    print("a banner that is not JSON-RPC", flush=True)
    update({"sessionUpdate": "agent_message_chunk",
            "content": {"type": "text", "text": "I will write it."}})
    update({"sessionUpdate": "tool_call", "toolCallId": "w1", "kind": "edit",
            "title": "Write", "status": "pending"})
    update({"sessionUpdate": "tool_call", "toolCallId": "w1", "kind": "edit",
            "title": "Write src/greeting.txt", "status": "pending"})
    update({"sessionUpdate": "tool_call", "toolCallId": "w1", "kind": "edit",
            "title": "Write src/greeting.txt", "status": "pending"})
    notes.append("permission " + str(permission("edit", "Write src/greeting.txt", {})))
    written = ask("fs/write_text_file", {"sessionId": "s1", "path": cwd + "/src/greeting.txt",
                                         "content": "Hello!\n"})
    notes.append("write " + ("ok" if "result" in written else "error"))
    read = ask("fs/read_text_file", {"sessionId": "s1", "path": cwd + "/README.md"})
    notes.append("read " + json.dumps(read.get("result", {}).get("content")))
    terminal = ask("terminal/create", {"sessionId": "s1", "command": "ls"})
    notes.append("terminal " + str(terminal.get("error", {}).get("code")))
    update({"sessionUpdate": "tool_call_update", "toolCallId": "w1", "status": "completed"})
    update({"sessionUpdate": "agent_message_chunk",
            "content": {"type": "text", "text": "Done. " + "; ".join(notes) + "\n<handoff>\n"}})
    update({"sessionUpdate": "agent_message_chunk",
            "content": {"type": "text",
                        "text": "summary: Wrote src/greeting.txt.\nleft undone:\n- none\n</handoff>"}})
    respond(prompt, {"stopReason": "end_turn", "usage": {"inputTokens": 120, "outputTokens": 30}})
elif scenario == "deny":
    notes.append("rm " + str(permission("execute", "`rm -rf src`", {"command": "rm -rf src"})))
    escaped = ask("fs/write_text_file", {"sessionId": "s1", "path": cwd + "/../outside.txt",
                                         "content": "out\n"})
    notes.append("escape " + ("ok" if "result" in escaped else "error"))
    update({"sessionUpdate": "agent_message_chunk",
            "content": {"type": "text", "text": "; ".join(notes)}})
    respond(prompt, {"stopReason": "end_turn"})
elif scenario == "review":
    notes.append("edit " + str(permission("edit", "Write README.md", {})))
    written = ask("fs/write_text_file", {"sessionId": "s1", "path": cwd + "/README.md",
                                         "content": "changed\n"})
    notes.append("write " + ("ok" if "result" in written else "error"))
    notes.append("cat " + str(permission("execute", "`cat README.md`",
                                          {"command": "cat README.md"})))
    update({"sessionUpdate": "agent_message_chunk",
            "content": {"type": "text", "text": "; ".join(notes)}})
    respond(prompt, {"stopReason": "end_turn"})
