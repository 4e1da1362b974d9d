package main

import (
	"fmt"
	"os"
	"slices"
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
			setSource(f, "environment "+envName(f.Name))
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := setFromYAML(flags, f, v); err != nil {
				firstErr = fmt.Errorf("--config %s: invalid value for %q: %w", path, f.Name, err)
			}
			setSource(f, fmt.Sprintf("%q in config file %s", f.Name, path))
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
	if m, ok := v.(map[string]any); ok {
		parts := make([]string, 0, len(m))
		for k, e := range m {
			parts = append(parts, k+"="+fmt.Sprint(e))
		}
		slices.Sort(parts)
		return flags.Set(f.Name, strings.Join(parts, ","))
	}
	return flags.Set(f.Name, fmt.Sprint(v))
}

// envName is the environment variable that sets the flag name.
func envName(flag string) string {
	return "STRATA_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// sourceAnnotation records on a flag where a value that did not come from
// the command line came from.
const sourceAnnotation = "strata-source"

func setSource(f *pflag.Flag, src string) {
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[sourceAnnotation] = []string{src}
}

// flagRef names a flag for an error message, with where its value came
// from when that was not the command line: `--log-level (from environment
// STRATA_LOG_LEVEL)`.
func flagRef(cmd *cobra.Command, name string) string {
	f := cmd.Flags().Lookup(name)
	if f != nil {
		if src := f.Annotations[sourceAnnotation]; len(src) > 0 {
			return fmt.Sprintf("--%s (from %s)", name, src[0])
		}
	}
	return "--" + name
}
