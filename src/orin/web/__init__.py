"""The browser app: its built files served by `orin api`, and the OpenAPI dump its typed
client is generated from (see docs/web.md)."""
