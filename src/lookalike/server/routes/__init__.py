"""One router per resource: images, search (and compare), collection-wide views, health."""
