"""What the routes and the queue start: the webhook, the inbox, the classify handler, learning,
undo, the answers and the page."""
