package relayctl

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDrainCommand(e *env, drain bool) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Withdraw the relay from service: readiness false, so the route is withdrawn",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			c := e.client()
			call := c.Drain
			if !drain {
				call = c.Undrain
			}
			res, raw, err := call(cmd.Context())
			if err != nil {
				return err
			}
			if out == "json" {
				_, err = e.opts.Stdout.Write(raw)
				return err
			}
			fmt.Fprintf(e.opts.Stdout, "%s (draining %s, ready %s)\n", res.Message, yesNo(res.Draining), yesNo(res.Ready))
			return nil
		},
	}
	if !drain {
		cmd.Use = "undrain"
		cmd.Short = "Return a drained relay to service"
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	return cmd
}

func newReloadCommand(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Re-read the configuration file and apply its reloadable settings",
		Long: `Asks the daemon to re-read its configuration (the same as SIGHUP, but
synchronous: suitable for ExecReload=). Exits 1 when the new file is rejected.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			res, raw, err := e.client().Reload(cmd.Context())
			if err != nil {
				return err
			}
			if out == "json" {
				if _, err := e.opts.Stdout.Write(raw); err != nil {
					return err
				}
			} else if res.Successful {
				fmt.Fprintf(e.opts.Stdout, "configuration reloaded; changed: %s\n", join(res.Changed))
			}
			if !res.Successful {
				return fmt.Errorf("configuration rejected, the previous one stays in force: %s", res.Error)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	return cmd
}
