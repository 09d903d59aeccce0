// omnivoice-media is the shim's native media participant: it joins each phone call's
// LiveKit room on behalf of omnivoice_rtc.shim (one Unix socket connection per call) and
// moves the call's audio, DTMF and data messages. Python keeps the carrier WebSocket, the
// codecs and all call policy; this process only does the per-packet work that the Python
// livekit rtc SDK does in libwebrtc (Opus encoding every 10 ms) at a fraction of the cost:
// caller audio at 8 kHz is published as G.711 μ-law, which the SFU forwards untouched.
//
// Usage: omnivoice-media -socket /path/to/media.sock
// It prints "ready <socket>" on stdout once it accepts connections, and exits on SIGTERM,
// SIGINT or when stdin closes (its parent died).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func main() {
	socketPath := flag.String("socket", "", "Unix socket path to listen on (required)")
	verbose := flag.Bool("verbose", false, "log the LiveKit SDK at info level")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *socketPath == "" {
		fmt.Fprintln(os.Stderr, "omnivoice-media: -socket is required")
		os.Exit(2)
	}
	level := "warn" // one line per call at info would add up at a hundred calls
	if *verbose {
		level = "info"
	}
	protoLogger.InitFromConfig(&protoLogger.Config{Level: level}, "omnivoice-media")
	lksdk.SetLogger(protoLogger.GetLogger())
	_ = os.Remove(*socketPath)
	listener, err := net.Listen("unix", *socketPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "omnivoice-media: listen on %s: %v\n", *socketPath, err)
		os.Exit(1)
	}
	_ = os.Chmod(*socketPath, 0o600)
	fmt.Printf("ready %s\n", *socketPath)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin)) // EOF: the parent is gone
		stop <- syscall.SIGTERM
	}()

	var calls sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	go func() {
		<-stop
		_ = listener.Close()
		mu.Lock()
		for conn := range open {
			_ = conn.Close() // each call leaves its room
		}
		mu.Unlock()
	}()
	for {
		conn, err := listener.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		open[conn] = struct{}{}
		mu.Unlock()
		calls.Add(1)
		go func() {
			defer calls.Done()
			serveCall(conn, log)
			mu.Lock()
			delete(open, conn)
			mu.Unlock()
		}()
	}
	calls.Wait()
	_ = os.Remove(*socketPath)
}
