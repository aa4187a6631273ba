//! Runnable examples of scanopy as a library: see `examples/` and run each as its first line says.
