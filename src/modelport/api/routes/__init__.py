"""Route groups: classic (the Flask template's routes) and server-wide."""
