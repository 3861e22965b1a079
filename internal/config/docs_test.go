package config

import (
	"os"
	"strings"
	"testing"
)

// TestOperationsDocListsEverySetting keeps the configuration reference of
// docs/operations.md true to the code: every serve setting has a row with
// its flag, its environment variable and its default.
func TestOperationsDocListsEverySetting(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // flag → its table row
	for line := range strings.SplitSeq(string(doc), "\n") {
		if strings.HasPrefix(line, "| `--") {
			flag := strings.Trim(strings.SplitN(line, "|", 3)[1], " `")
			rows[flag] = line
		}
	}
	var c Config
	for _, s := range serveSettings(&c) {
		row, ok := rows["--"+s.flag]
		if !ok {
			t.Errorf("docs/operations.md has no row for --%s", s.flag)
			continue
		}
		if !strings.Contains(row, "`"+s.env+"`") {
			t.Errorf("the row of --%s does not name %s: %s", s.flag, s.env, row)
		}
		def := strings.Trim(s.value.String(), `"`)
		if _, isBool := s.value.(boolValue); isBool && def == "" {
			def = "false"
		}
		if def == "" {
			def = "(none)"
		} else {
			def = "`" + def + "`"
		}
		if !strings.Contains(row, def) {
			t.Errorf("the row of --%s does not give the default %s: %s", s.flag, def, row)
		}
	}
}
