"""The builder: turns an ImageSpec into a runnable image, content-addressed and cached."""
