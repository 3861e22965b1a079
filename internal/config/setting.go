package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrHelp is returned by the Parse functions when the arguments ask for help
// (-h, -help or --help); the caller prints the matching usage text and exits
// successfully.
var ErrHelp = flag.ErrHelp

// envPrefix starts the name of every environment variable this program reads.
const envPrefix = "NORDKAPP42_"

// setting binds one command-line flag, and optionally one environment
// variable, to a field. A subcommand's settings are a table of these, so that a
// new setting is one line.
type setting struct {
	// flag is the flag's name without dashes.
	flag string
	// env is the environment variable's name, or "" when there is none.
	env string
	// value holds the field and was given the default when it was built.
	value value
	// usage says what the setting is for; the env name and default are added.
	usage string
	// check, when set, validates the value once flags and environment are in.
	check func() error
}

// value is a flag.Value that can also name its type in the usage text.
type value interface {
	flag.Value
	typeName() string
}

// source says where a setting's value came from, so that an error names the
// flag or variable the user actually gave.
type source int

const (
	fromDefault source = iota
	fromEnv
	fromFlag
)

// name spells the setting as it was given: the flag, the environment variable,
// or both when the value is the default.
func (s setting) name(from source) string {
	switch {
	case from == fromFlag || s.env == "":
		return "--" + s.flag
	case from == fromEnv:
		return s.env
	default:
		return "--" + s.flag + " (" + s.env + ")"
	}
}

// parse sets the settings from the defaults already in place, then getenv,
// then args; a later source wins over an earlier one. getenv may be nil, for
// no environment.
func parse(command string, settings []setting, args []string, getenv func(string) string) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	from := make(map[string]source, len(settings))
	for _, s := range settings {
		if s.env == "" {
			continue
		}
		if v := getenv(s.env); v != "" {
			if err := s.value.Set(v); err != nil {
				return fmt.Errorf("%s: invalid value %q for %s: %w", command, v, s.env, err)
			}
			from[s.flag] = fromEnv
		}
	}
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	// The caller owns the output: it prints errors once and help on ErrHelp.
	fs.SetOutput(io.Discard)
	for _, s := range settings {
		fs.Var(s.value, s.flag, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w", command, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", command, fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { from[f.Name] = fromFlag })
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		if err := s.check(); err != nil {
			return fmt.Errorf("%s: %s %w", command, s.name(from[s.flag]), err)
		}
	}
	return nil
}

// usage renders the help text of a subcommand: its synopsis, then each
// setting in table order with its type, environment variable and default.
// settings must be freshly built, so that their values are the defaults.
func usage(synopsis string, settings []setting) string {
	var b strings.Builder
	b.WriteString(synopsis)
	b.WriteString("\n\nFlags (a flag wins over its environment variable, which wins over the default):\n")
	for _, s := range settings {
		fmt.Fprintf(&b, "  --%s", s.flag)
		if t := s.value.typeName(); t != "" {
			fmt.Fprintf(&b, " %s", t)
		}
		fmt.Fprintf(&b, "\n        %s", s.usage)
		var notes []string
		if s.env != "" {
			notes = append(notes, "env "+s.env)
		}
		if def := s.value.String(); def != "" {
			notes = append(notes, "default "+def)
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// typed is a value of type T stored in a field the setting points at.
type typed[T any] struct {
	p      *T
	name   string
	parse  func(string) (T, error)
	format func(T) string
}

// bind sets *p to def and returns the value that updates *p.
func bind[T any](p *T, def T, name string, parse func(string) (T, error), format func(T) string) *typed[T] {
	*p = def
	return &typed[T]{p: p, name: name, parse: parse, format: format}
}

func (v *typed[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

// String formats the current value. The flag package calls it on a zero
// typed[T] too, hence the nil check.
func (v *typed[T]) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return v.format(*v.p)
}

func (v *typed[T]) typeName() string { return v.name }

// boolValue lets a boolean flag be given without a value (--demo).
type boolValue struct{ *typed[bool] }

func (boolValue) IsBoolFlag() bool { return true }

func stringVar(p *string, def string) value {
	return bind(p, def, "string",
		func(s string) (string, error) { return s, nil },
		func(s string) string {
			if s == "" {
				return ""
			}
			return strconv.Quote(s)
		})
}

func boolVar(p *bool, def bool) value {
	return boolValue{bind(p, def, "",
		func(s string) (bool, error) {
			switch strings.ToLower(s) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			return false, errors.New("not a boolean (want true, false, 1 or 0)")
		},
		func(b bool) string {
			if !b {
				return "" // the usage text leaves out a false default
			}
			return "true"
		})}
}

func intVar(p *int, def int) value {
	return bind(p, def, "int",
		func(s string) (int, error) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, errors.New("not an integer")
			}
			return n, nil
		},
		strconv.Itoa)
}

func floatVar(p *float64, def float64) value {
	return bind(p, def, "float",
		func(s string) (float64, error) {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, errors.New("not a finite number")
			}
			return f, nil
		},
		func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
}

func durationVar(p *time.Duration, def time.Duration) value {
	return bind(p, def, "duration",
		func(s string) (time.Duration, error) {
			d, err := time.ParseDuration(s)
			if err != nil {
				return 0, errors.New("not a duration (e.g. 30s, 5m, 24h)")
			}
			return d, nil
		},
		time.Duration.String)
}

// number is what the range checks accept.
type number interface {
	~int | ~int64 | ~float64
}

// atLeast checks that *p is least or more.
func atLeast[T number](p *T, least T) func() error {
	return func() error {
		if *p < least {
			return fmt.Errorf("must be at least %v, not %v", least, *p)
		}
		return nil
	}
}

// positive checks that *p is above zero.
func positive[T number](p *T) func() error {
	return func() error {
		if *p <= 0 {
			return fmt.Errorf("must be positive, not %v", *p)
		}
		return nil
	}
}

// oneOf checks that *p is one of allowed.
func oneOf(p *string, allowed ...string) func() error {
	return func() error {
		if !slices.Contains(allowed, *p) {
			return fmt.Errorf("must be one of %s, not %q", strings.Join(allowed, ", "), *p)
		}
		return nil
	}
}

// required checks that *p was given.
func required(p *string) func() error {
	return func() error {
		if *p == "" {
			return errors.New("is required")
		}
		return nil
	}
}
