package store

// Engine names the database engine. (Until the PostgreSQL engine is merged,
// the store is SQLite only.)
func (db *DB) Engine() string { return "sqlite" }
