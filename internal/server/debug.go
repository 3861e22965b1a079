package server

import (
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
)

// DebugHandler serves the profiling endpoints of net/http/pprof under
// /debug/pprof/, and POST /debug/gc, which collects garbage and returns freed
// memory to the operating system so that a measurement of the resident set
// after it counts live memory only. Serve it on a loopback or otherwise
// private address: profiles reveal internals and cost CPU.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
