"""What the tests and the benchmarks share: drawn faces and scenes (`testkit.synthetic`), photos
that try to break the predictor (`testkit.hostile`), and servers, browsers and result files
(`testkit.serving`). Never needed to run the demo, and never shipped with it."""
