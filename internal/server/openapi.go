package server

import _ "embed"

// openAPIDoc describes the REST API (OpenAPI 3.1). TestOpenAPICoversRoutes
// keeps it in step with the registered routes.
//
//go:embed openapi.json
var openAPIDoc []byte
