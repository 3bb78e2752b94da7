"""The drop-in sidebar widget: ``margin.js``, served by the backend at ``/widget.js`` (package data)."""
