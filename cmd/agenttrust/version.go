package main

import (
	"context"
	"runtime/debug"
)

// versionInfo is what "agenttrust version" prints, from the build
// information the Go toolchain embeds in the binary.
type versionInfo struct {
	Version   string `json:"version"`            // the module version, "(devel)" for a build from a work tree
	Revision  string `json:"revision,omitempty"` // VCS revision, when built from a repository
	Time      string `json:"time,omitempty"`     // VCS commit time
	Modified  bool   `json:"modified,omitempty"` // the work tree had changes
	GoVersion string `json:"go_version"`
}

// readVersion extracts the version from the build information; without
// it (a binary built without module support) it says "unknown".
func readVersion(read func() (*debug.BuildInfo, bool)) versionInfo {
	if read == nil {
		read = debug.ReadBuildInfo
	}
	bi, ok := read()
	if !ok || bi == nil {
		return versionInfo{Version: "unknown", GoVersion: "unknown"}
	}
	v := versionInfo{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "Print the version of this binary: module version, VCS revision and time, Go version",
		help: `Print the version of this binary, from the build information Go embeds in
it: the module version ("(devel)" when built from a work tree), the VCS
revision and its time when built from a repository (with "modified" when
the work tree had changes), and the Go version. "agenttrust --version" is
the same.`,
		setup: func(e *env, f *flags) runFunc {
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				v := readVersion(e.buildInfo)
				if o.json {
					return o.printJSON(v)
				}
				t := o.table()
				t.row("VERSION", v.Version)
				if v.Revision != "" {
					rev := v.Revision
					if v.Modified {
						rev += " (modified)"
					}
					t.row("REVISION", rev)
				}
				if v.Time != "" {
					t.row("TIME", v.Time)
				}
				t.row("GO", v.GoVersion)
				return t.flush()
			}
		},
	}
}
