"""The tests of the notes service; run them with python3 -m unittest discover -s tests -t ."""
