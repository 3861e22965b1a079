package config

import (
	"errors"
	"fmt"
)

// MigrateConfig is the configuration of the migrate subcommand.
type MigrateConfig struct {
	// Command is "up" (apply pending migrations) or "status" (list them).
	Command string
	// DatabaseURL is the PostgreSQL database to migrate.
	DatabaseURL string
}

func migrateSettings(c *MigrateConfig) []setting {
	return []setting{
		{"database-url", envPrefix + "DATABASE_URL", stringVar(&c.DatabaseURL, ""), "PostgreSQL URL (postgres://user:pass@host:5432/db)", nil},
	}
}

// ParseMigrate reads the configuration of the migrate subcommand: its
// command (up or status) followed by flags.
func ParseMigrate(args []string, getenv func(string) string) (MigrateConfig, error) {
	var c MigrateConfig
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		return MigrateConfig{}, ErrHelp
	}
	if len(args) == 0 {
		return MigrateConfig{}, errors.New("migrate: give a command: up or status")
	}
	c.Command, args = args[0], args[1:]
	if c.Command != "up" && c.Command != "status" {
		return MigrateConfig{}, fmt.Errorf("migrate: unknown command %q: use up or status", c.Command)
	}
	if err := parse("migrate", migrateSettings(&c), args, getenv); err != nil {
		return MigrateConfig{}, err
	}
	return c, nil
}

// MigrateUsage returns the help text of the migrate subcommand.
func MigrateUsage() string {
	var c MigrateConfig
	return usage("Usage: nordkapp42 migrate up|status [flags]\n\nApply or list the PostgreSQL schema migrations (the server also applies them when it starts).", migrateSettings(&c))
}
