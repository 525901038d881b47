"""Package data of vanish.models (the RAFT key map); a package so importlib.resources finds it."""
