// Package viewdata holds the row types of the view tables and the read-only queries the applications
// run against them. The aggregators write those tables; nobody else does.
//
// Rules: viewdata imports nothing of the project but pgx. Queries take a Querier so that the
// applications can use a pool whose transactions are read-only. A missing row is ErrNotFound, which
// the web layer maps to a 404 page.
package viewdata
