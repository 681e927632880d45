"""The `callcenter` admin CLI: `callcenter NOUN VERB [options]`, one module per noun."""
