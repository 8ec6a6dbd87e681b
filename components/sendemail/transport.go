package sendemail

import (
	"context"
	"errors"
	"fmt"
)

// Transport delivers emails. Deliver returns nil once the email is handed over, an error marked with
// messagestore.Transient when trying again later may succeed, and any other error when it never will
// (the email is then recorded as Failed).
type Transport interface {
	Deliver(ctx context.Context, e Email) error
}

// NewTransport returns the transport the configuration asks for: SMTP when smtpURL is set, otherwise a
// pickup directory in dir.
func NewTransport(dir, smtpURL string) (Transport, error) {
	if smtpURL != "" {
		t, err := NewSMTP(smtpURL)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	if dir == "" {
		return nil, errors.New("sendemail: neither an email directory nor an SMTP URL is configured")
	}
	return &PickupDirectory{Dir: dir}, nil
}

// permanent wraps an error that retrying cannot fix, with the step it happened in.
func permanent(step string, err error) error { return fmt.Errorf("%s: %w", step, err) }
