"""One module per delivery channel; each sender turns a `Notice` into a provider request."""
