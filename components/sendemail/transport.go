package sendemail

import (
	"context"
	"errors"
	"fmt"

	"videotutorials/messagestore"
)

// Transport delivers emails. Deliver returns nil once the email is handed over, an error marked with
// messagestore.Transient when trying again later may succeed, and any other error when it never will
// (the email is then recorded as Failed). The transport alone decides which is which (see retryLater).
type Transport interface {
	Deliver(ctx context.Context, e Email) error
}

// retryLater reports whether a failed delivery is to be tried again later — returned to the
// subscription, which retries it with back-off, and nothing recorded — rather than recorded as Failed.
//
// Only the transport knows what its errors mean, so its mark (messagestore.Transient) is what counts:
// the SMTP transport marks a 4xx reply, a refused or lost connection, a timeout, a TLS or
// authentication problem, and leaves a 5xx refusal of the envelope or the message unmarked; the
// pickup directory marks every file-system error (pickupError says why). messagestore.IsTransient is
// not asked: it judges database errors, and by their looks — it would read a "550 … failed to
// connect to your mail server" refusal as a lost connection and retry the email forever.
func retryLater(ctx context.Context, err error) bool {
	// A delivery cut short by shutdown (or by the handler's own deadline) says nothing about the email.
	return ctx.Err() != nil || messagestore.IsMarkedTransient(err)
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
