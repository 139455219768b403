package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/configs"
)

// startTestHTTP serves h with the server serve builds, with short timeouts.
func startTestHTTP(t *testing.T, read, idle time.Duration) string {
	t.Helper()
	lim := configs.Limits{ReadTimeout: configs.Duration(read), IdleTimeout: configs.Duration(idle)}
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}), lim, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// requireClosedByServer reads until the server closes conn; the deadline is
// only a guard against hanging the test, far above the timeouts.
func requireClosedByServer(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	_, err := io.Copy(io.Discard, conn)
	require.NoError(t, err, "the server closed the connection (EOF), not our guard deadline")
}

func TestServe_TimeoutsFromConfig(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), configs.Limits{
		ReadTimeout: configs.DefaultReadTimeout, IdleTimeout: configs.DefaultIdleTimeout,
	}, slog.New(slog.DiscardHandler))
	require.Equal(t, time.Minute, srv.ReadTimeout)
	require.Equal(t, 2*time.Minute, srv.IdleTimeout)
	require.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	require.Equal(t, time.Minute+30*time.Second, srv.WriteTimeout)
}

func TestServe_SlowBodyIsCut(t *testing.T) {
	addr := startTestHTTP(t, 200*time.Millisecond, time.Hour)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	// Announce 64 MiB, send a few bytes, then nothing.
	_, err = io.WriteString(conn, "PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 67108864\r\n\r\n{\"a\":")
	require.NoError(t, err)
	requireClosedByServer(t, conn)
}

func TestServe_IdleConnectionIsClosed(t *testing.T) {
	addr := startTestHTTP(t, time.Hour, 200*time.Millisecond)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, resp.Body.Close())
	require.False(t, resp.Close, "keep-alive")
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	rest, err := io.ReadAll(br)
	require.NoError(t, err, "closed by the server when idle")
	require.Empty(t, strings.TrimSpace(string(rest)))
}

// server.limits.max_connections: past it a connection is not accepted
// until an accepted one closes.
func TestServe_ConnectionCap(t *testing.T) {
	ln, err := listen("127.0.0.1:0", 2)
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	defer second.Close()
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, first.Close())
	third := <-accepted // would hang (and time out the test) if never accepted
	require.NoError(t, third.Close())
}
