// Package contract checks requests to and answers from the banking platform
// against the platform's published definitions, so a renamed field, a null
// where the platform never sends one, or an invented enum value fails the
// tests that pass traffic through it. It is used only by tests: wrap the
// simulator's handler with Middleware (or call CheckExchange).
//
// The facts are pinned from the platform's generated Python clients (their
// models list every field, its type and nullability, and every enum value;
// their docs say which request fields are required when):
//
//   - Bank API: Cybrid-app/cybrid-api-bank-python, OpenAPI document v0.129.899
//     (commit 231df1e67bd6a273d8efda4acf9d85a7917b3ba9), cybrid_api_bank/model/*.py
//     and docs/*.md.
//   - Identity API (customer tokens): Cybrid-app/cybrid-api-id-python, OpenAPI
//     document v0.128.65, cybrid_api_id/model/customer_token.py.
//
// What those clients do not define is taken from the portal's contract
// (platform-api.md) and marked so: the OAuth2 token endpoint's bodies, the
// list of error message codes, and which answer fields the portal relies on
// (the generated models mark every answer field optional; Required here
// means the contract promises it and the portal reads it).
package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Kind is a JSON type of the definitions.
type Kind int

// Kinds.
const (
	String Kind = iota
	Int
	Bool
	Time   // a string in RFC 3339
	Object // Of gives its fields
	Array  // Of gives its items (for arrays of objects) or Items their kind
	Any    // any JSON value (fields the portal neither sends nor reads)
)

func (k Kind) String() string {
	return [...]string{"string", "integer", "boolean", "date-time", "object", "array", "any"}[k]
}

// Field is one property of an object.
type Field struct {
	Kind     Kind
	Nullable bool
	Required bool
	Enum     []string // allowed values of a string (or of each item of a string array)
	// MinLen and MaxLen bound a string's length (0: unbounded);
	// for arrays they bound the number of items.
	MinLen, MaxLen int
	Min            *int64 // inclusive minimum of an integer
	Max            *int64 // inclusive maximum of an integer
	Of             *Schema
	Items          Kind // kind of an array's items when Of is nil
}

// Schema is an object of the definitions.
type Schema struct {
	Name   string
	Fields map[string]Field
	// Rules check what depends on several fields (the docs' "required when").
	Rules []func(obj map[string]any) string
}

// Check returns every way body (JSON) breaks s, each prefixed with where.
func (s *Schema) Check(body []byte) []string {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{s.Name + ": not JSON: " + err.Error()}
	}
	return s.check(s.Name, v)
}

func (s *Schema) check(at string, v any) []string {
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: got %s, want an object", at, jsonKind(v))}
	}
	var out []string
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, known := s.Fields[k]
		if !known {
			out = append(out, fmt.Sprintf("%s.%s: no such field in %s", at, k, s.Name))
			continue
		}
		out = append(out, f.check(at+"."+k, obj[k])...)
	}
	names := make([]string, 0, len(s.Fields))
	for k := range s.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, present := obj[k]; s.Fields[k].Required && !present {
			out = append(out, fmt.Sprintf("%s.%s: required field missing", at, k))
		}
	}
	for _, rule := range s.Rules {
		if msg := rule(obj); msg != "" {
			out = append(out, at+": "+msg)
		}
	}
	return out
}

func (f Field) check(at string, v any) []string {
	if v == nil {
		if f.Nullable || f.Kind == Any {
			return nil
		}
		return []string{at + ": null, but the field is not nullable"}
	}
	switch f.Kind {
	case Any:
		return nil
	case String, Time:
		s, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want %s", at, jsonKind(v), f.Kind)}
		}
		return f.checkString(at, s)
	case Int:
		n, ok := v.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want integer", at, jsonKind(v))}
		}
		i, err := n.Int64()
		if err != nil {
			return []string{fmt.Sprintf("%s: %s is not an integer", at, n)}
		}
		if f.Min != nil && i < *f.Min {
			return []string{fmt.Sprintf("%s: %d is below the minimum %d", at, i, *f.Min)}
		}
		if f.Max != nil && i > *f.Max {
			return []string{fmt.Sprintf("%s: %d is above the maximum %d", at, i, *f.Max)}
		}
	case Bool:
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: got %s, want boolean", at, jsonKind(v))}
		}
	case Object:
		return f.Of.check(at, v)
	case Array:
		items, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want array", at, jsonKind(v))}
		}
		var out []string
		if f.MinLen > 0 && len(items) < f.MinLen || f.MaxLen > 0 && len(items) > f.MaxLen {
			out = append(out, fmt.Sprintf("%s: %d items, want %d..%d", at, len(items), f.MinLen, f.MaxLen))
		}
		for i, it := range items {
			where := fmt.Sprintf("%s[%d]", at, i)
			if f.Of != nil {
				out = append(out, f.Of.check(where, it)...)
			} else {
				out = append(out, Field{Kind: f.Items, Enum: f.Enum}.check(where, it)...)
			}
		}
		return out
	}
	return nil
}

func (f Field) checkString(at, s string) []string {
	if f.Kind == Time {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return []string{fmt.Sprintf("%s: %q is not an RFC 3339 time", at, s)}
		}
		return nil
	}
	if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
		return []string{fmt.Sprintf("%s: %q is not one of %s", at, s, strings.Join(f.Enum, ", "))}
	}
	if n := len([]rune(s)); f.MinLen > 0 && n < f.MinLen || f.MaxLen > 0 && n > f.MaxLen {
		return []string{fmt.Sprintf("%s: %d characters, want %d..%d", at, n, f.MinLen, f.MaxLen)}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
