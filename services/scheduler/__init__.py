"""The scheduler: the deploy API, app state, container pools, assignment and autoscaling."""
