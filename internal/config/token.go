package config

import "time"

// TokenConfig is the configuration of the token subcommand, which issues an
// HS256 token for development and testing.
type TokenConfig struct {
	// DataDir is where the generated JWT secret is kept when JWTSecret is
	// empty; the same directory as the server's, so the server accepts the
	// token.
	DataDir string
	// JWTSecret is the HS256 secret to sign with; empty means the secret kept
	// in DataDir.
	JWTSecret string
	// Sub is the member id the token names.
	Sub string
	// Name is the member's display name; empty leaves the claim out.
	Name string
	// TTL is how long the token is valid; a negative TTL gives an already
	// expired token, for testing how clients handle expiry.
	TTL time.Duration
}

// tokenSettings binds the flags and environment variables of token to the
// fields of c, and sets those fields to their defaults.
func tokenSettings(c *TokenConfig) []setting {
	return []setting{
		{"data-dir", envPrefix + "DATA_DIR", stringVar(&c.DataDir, "./data"), "directory of the generated JWT secret", nil},
		{"jwt-secret", envPrefix + "JWT_SECRET", stringVar(&c.JWTSecret, ""), "HS256 secret to sign with; prefer the environment variable, as flags show in the process list; empty means <data-dir>/jwt-secret", nil},
		{"sub", "", stringVar(&c.Sub, ""), "member id the token names (required)", required(&c.Sub)},
		{"name", "", stringVar(&c.Name, ""), "display name of the member", nil},
		{"ttl", "", durationVar(&c.TTL, 24*time.Hour), "how long the token is valid; negative gives an expired token", nil},
	}
}

// ParseToken reads the configuration of the token subcommand from args (the
// arguments after "token") and getenv (usually os.Getenv; nil for none). An
// invalid or missing value gives an error naming the flag or environment
// variable; -h or --help gives ErrHelp.
func ParseToken(args []string, getenv func(string) string) (TokenConfig, error) {
	var c TokenConfig
	if err := parse("token", tokenSettings(&c), args, getenv); err != nil {
		return TokenConfig{}, err
	}
	return c, nil
}

// TokenUsage returns the help text of the token subcommand: every flag with
// its environment variable and default.
func TokenUsage() string {
	var c TokenConfig
	return usage("Usage: nordkapp42 token --sub MEMBER [flags]\n\nPrint an HS256 token for a member, for development and testing.", tokenSettings(&c))
}
