package lambda

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// HTTPConfig configures a processor that POSTs events to a URL.
type HTTPConfig struct {
	Config
	// URL receives each event as the request body (required, http or https).
	URL string
	// Client is used for requests; nil means a client of its own.
	Client *http.Client
}

// NewHTTP returns a processor that invokes the handler at cfg.URL. A 200
// answer's body is the response; any other status fails the call.
func NewHTTP(cfg HTTPConfig) (*Processor, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("lambda: url %q: want an absolute http or https URL", cfg.URL)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return newProcessor(cfg.Config, &httpInvoker{url: u.String(), client: cfg.Client}), nil
}

type httpInvoker struct {
	url    string
	client *http.Client
}

func (h *httpInvoker) invoke(ctx context.Context, event []byte, timeout time.Duration, accept func([]byte) error) error {
	body, err := h.post(ctx, event, timeout)
	if err != nil {
		return err
	}
	return accept(body)
}

func (h *httpInvoker) post(ctx context.Context, event []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(event))
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambda: invoke %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("lambda: read response of %s: %w", h.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lambda: %s answered %s: %s", h.url, resp.Status, snippet(body))
	}
	if len(body) > MaxResponse {
		return nil, fmt.Errorf("lambda: %w: response of %s is over %d bytes", ErrJSONProcessing, h.url, MaxResponse)
	}
	return body, nil
}

func (h *httpInvoker) close(context.Context) error {
	h.client.CloseIdleConnections()
	return nil
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	const n = 200
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
