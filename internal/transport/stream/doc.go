// Package stream serves GraphQL operations that stream results: a WebSocket
// transport speaking both subprotocols in use today (graphql-transport-ws of
// the graphql-ws npm client, and the legacy graphql-ws of Apollo's
// subscriptions-transport-ws) and a Server-Sent Events transport (the
// "distinct connections" mode of graphql-sse).
//
// Both are gqlgen transports, added to a handler.Server with AddTransport. Add
// them before gqlgen's stock transports: transport.POST accepts every JSON
// POST, including the ones that ask for text/event-stream.
//
// They replace gqlgen's stock transport.Websocket and transport.SSE because the
// API contract needs exact close codes, a per-connection operation limit,
// presence hooks, credential expiry and terminal errors ([Fail]), and because
// this is the layer to optimise for many subscribers: an idle WebSocket costs
// one goroutine and no buffers, queued frames go out with one flush, and
// subscriptions taken by a [Pusher] cost the transport no goroutine and
// share their encoded results.
//
// Graceful shutdown: hijacked WebSockets and never-ending SSE responses are
// invisible to http.Server.Shutdown, so call the transports' Shutdown methods
// first (or from http.Server.RegisterOnShutdown). They end every stream (close
// code 1012 on WebSockets, a complete event on SSE) and wait for the handlers
// to return.
package stream
