package main

import (
	"strings"
	"testing"
)

func TestMetricsAddrConfig(t *testing.T) {
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	if c, err := parseConfig(nil, env(nil)); err != nil || c.MetricsAddr != "" {
		t.Fatalf("default: got %q, %v; want off", c.MetricsAddr, err)
	}
	c, err := parseConfig([]string{"-metrics-addr", "127.0.0.1:9100"}, env(map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:9200"}))
	if err != nil || c.MetricsAddr != "127.0.0.1:9100" {
		t.Fatalf("flag over env: got %q, %v", c.MetricsAddr, err)
	}
	if c, err := parseConfig(nil, env(map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:9200"})); err != nil || c.MetricsAddr != "127.0.0.1:9200" {
		t.Fatalf("env: got %q, %v", c.MetricsAddr, err)
	}
	for name, args := range map[string][]string{
		"no port":            {"-metrics-addr", "127.0.0.1"},
		"the public address": {"-addr", "127.0.0.1:8080", "-metrics-addr", "127.0.0.1:8080"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseConfig(args, env(nil)); err == nil || !strings.Contains(err.Error(), "-metrics-addr") {
				t.Fatalf("got %v, want an error naming -metrics-addr", err)
			}
		})
	}
}
