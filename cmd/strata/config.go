package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// applyConfigSources fills every flag the command line did not set, first
// from the environment (STRATA_<FLAG>) and then from the YAML file named by
// --config. A value that does not parse stops the command with an error that
// names the flag and where the value came from.
func applyConfigSources(cmd *cobra.Command, _ []string) error {
	flags := cmd.Flags()
	file := map[string]any{}
	path, _ := flags.GetString("config")
	if !flags.Changed("config") {
		if v, ok := os.LookupEnv(envName("config")); ok {
			path = v
		}
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if err := yaml.Unmarshal(raw, &file); err != nil {
			return fmt.Errorf("--config %s: %w", path, err)
		}
		for k := range file {
			if flags.Lookup(k) == nil {
				return fmt.Errorf("--config %s: unknown setting %q for %q", path, k, cmd.CommandPath())
			}
		}
	}
	var firstErr error
	flags.VisitAll(func(f *pflag.Flag) {
		if firstErr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := flags.Set(f.Name, v); err != nil {
				firstErr = fmt.Errorf("environment %s: invalid value %q for --%s: %w", envName(f.Name), v, f.Name, err)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := setFromYAML(flags, f, v); err != nil {
				firstErr = fmt.Errorf("--config %s: invalid value for %q: %w", path, f.Name, err)
			}
		}
	})
	return firstErr
}

func setFromYAML(flags *pflag.FlagSet, f *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, p := range list {
			parts[i] = fmt.Sprint(p)
		}
		return flags.Set(f.Name, strings.Join(parts, ","))
	}
	return flags.Set(f.Name, fmt.Sprint(v))
}

// envName is the environment variable that sets the flag name.
func envName(flag string) string {
	return "STRATA_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
