//! Checks on the precondition graph: no cycles, and no feature waiting on a feature of a
//! later milestone (milestones run in order).

use std::collections::VecDeque;

use super::diagnostic::DiagnosticCode;
use super::raw::RawPlan;
use super::source::{Located, Sink};
use super::validate::IdTable;

/// An edge from a feature to one of its preconditions, with where it was written.
#[derive(Debug)]
struct Edge<'raw> {
    target: usize,
    written: &'raw Located,
}

pub(crate) fn check_preconditions(
    raw: &RawPlan,
    milestones: &IdTable<'_>,
    features: &IdTable<'_>,
    sink: &mut Sink<'_>,
) {
    // A precondition names the first feature with that id; duplicates have been reported.
    let feature_index: std::collections::BTreeMap<&str, usize> = raw
        .features
        .iter()
        .enumerate()
        .filter_map(|(index, feature)| {
            let id = feature.id.as_ref()?;
            let first = features.get(id.text.as_str())?;
            (first.span == id.span).then_some((id.text.as_str(), index))
        })
        .collect();
    let milestone_order: std::collections::BTreeMap<&str, usize> = raw
        .milestones
        .iter()
        .filter_map(|milestone| milestone.id.as_ref())
        .filter(|id| {
            milestones
                .get(id.text.as_str())
                .is_some_and(|first| first.span == id.span)
        })
        .enumerate()
        .map(|(position, id)| (id.text.as_str(), position))
        .collect();
    let milestone_position = |index: usize| {
        let milestone = raw.features[index].milestone.as_ref()?;
        let position = milestone_order.get(milestone.text.as_str())?;
        Some((milestone.text.as_str(), *position))
    };

    let mut edges: Vec<Vec<Edge<'_>>> = raw.features.iter().map(|_| Vec::new()).collect();
    for (index, feature) in raw.features.iter().enumerate() {
        for precondition in &feature.preconditions {
            let Some(&target) = feature_index.get(precondition.text.as_str()) else {
                continue;
            };
            edges[index].push(Edge {
                target,
                written: precondition,
            });
            if let (Some((own_milestone, own_position)), Some((their_milestone, their_position))) =
                (milestone_position(index), milestone_position(target))
                && their_position > own_position
            {
                sink.report_at(
                    DiagnosticCode::PreconditionInLaterMilestone,
                    precondition,
                    format!(
                        "feature {:?} is in milestone {their_milestone:?}, which comes after \
                         this feature's milestone {own_milestone:?}; milestones run in order",
                        precondition.text
                    ),
                );
            }
        }
    }
    report_cycles(raw, &edges, sink);
}

fn report_cycles(raw: &RawPlan, edges: &[Vec<Edge<'_>>], sink: &mut Sink<'_>) {
    let mut components = strongly_connected_components(edges);
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort_unstable();
    for component in components {
        let start = component[0];
        let is_cycle = component.len() > 1 || edges[start].iter().any(|edge| edge.target == start);
        if !is_cycle {
            continue;
        }
        let cycle = shortest_cycle(start, &component, edges);
        let Some(second) = cycle.get(1) else {
            continue;
        };
        let Some(first_edge) = edges[start].iter().find(|edge| edge.target == *second) else {
            continue;
        };
        let names: Vec<&str> = cycle
            .iter()
            .map(|&index| {
                raw.features[index]
                    .id
                    .as_ref()
                    .map_or("?", |id| id.text.as_str())
            })
            .collect();
        sink.report_at(
            DiagnosticCode::DependencyCycle,
            first_edge.written,
            format!(
                "dependency cycle: {} (each feature needs the next one done first)",
                names.join(" -> ")
            ),
        );
    }
}

/// The shortest path from `start` back to itself inside one component, both ends
/// included: `[a, b, c, a]`.
fn shortest_cycle(start: usize, component: &[usize], edges: &[Vec<Edge<'_>>]) -> Vec<usize> {
    let mut came_from: Vec<Option<usize>> = vec![None; edges.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for edge in &edges[node] {
            if edge.target == start {
                let mut path = vec![node];
                let mut cursor = node;
                while cursor != start {
                    let Some(previous) = came_from[cursor] else {
                        break;
                    };
                    path.push(previous);
                    cursor = previous;
                }
                path.reverse();
                path.push(start);
                return path;
            }
            let is_unvisited = came_from[edge.target].is_none() && edge.target != start;
            if is_unvisited && component.binary_search(&edge.target).is_ok() {
                came_from[edge.target] = Some(node);
                queue.push_back(edge.target);
            }
        }
    }
    vec![start]
}

/// Tarjan's algorithm, without recursion so a long chain of features cannot overflow
/// the stack.
fn strongly_connected_components(edges: &[Vec<Edge<'_>>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let node_count = edges.len();
    let mut order = vec![UNVISITED; node_count];
    let mut lowest = vec![0; node_count];
    let mut on_stack = vec![false; node_count];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_order = 0;
    for root in 0..node_count {
        if order[root] != UNVISITED {
            continue;
        }
        order[root] = next_order;
        lowest[root] = next_order;
        next_order += 1;
        stack.push(root);
        on_stack[root] = true;
        // Each frame is a node and the position of the next edge to follow.
        let mut frames = vec![(root, 0usize)];
        while let Some(frame) = frames.last_mut() {
            let (node, next_edge) = *frame;
            if let Some(edge) = edges[node].get(next_edge) {
                frame.1 += 1;
                let target = edge.target;
                if order[target] == UNVISITED {
                    order[target] = next_order;
                    lowest[target] = next_order;
                    next_order += 1;
                    stack.push(target);
                    on_stack[target] = true;
                    frames.push((target, 0));
                } else if on_stack[target] {
                    lowest[node] = lowest[node].min(order[target]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                lowest[parent] = lowest[parent].min(lowest[node]);
            }
            if lowest[node] == order[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}
