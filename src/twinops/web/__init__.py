"""The browser console: a small single-page app served by the API server (an edge)."""
