// Package authenticationmsg is the public contract of the authenticate application: the
// authentication category and its events.
package authenticationmsg

import "videotutorials/messagestore"

// Category holds one stream per user: authentication-<userId>.
const Category = "authentication"

// StreamName is the authentication stream of a user.
func StreamName(userID string) string { return messagestore.StreamName(Category, userID) }

// UserLoggedIn says a user logged in.
type UserLoggedIn struct {
	UserID string `json:"userId"`
}

// UserLoginFailed says a login with the user's email failed.
type UserLoginFailed struct {
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

// UserLoggedOut says a user logged out of one session. SessionRef names that session without being
// its secret (app.SessionRef); the user-credentials view keeps it, so that the session's cookie is
// refused in every process from then on.
type UserLoggedOut struct {
	UserID     string `json:"userId"`
	SessionRef string `json:"sessionRef"`
}
