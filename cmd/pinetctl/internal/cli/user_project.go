// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users and their credentials"}

	var projects []string
	var admin, waitForReady bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user (its access key and certificate are issued by the cloud)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: args[0]}, Spec: cloudv1.UserSpec{Projects: projects, Admin: admin}}
			if err := c.Create(cmd.Context(), u); err != nil {
				return fmt.Errorf("creating user %s: %w", args[0], err)
			}
			if waitForReady {
				if err := waitReady(cmd.Context(), c, u); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.out, "user/%s created\n", u.Name)
			return nil
		},
	}
	create.Flags().StringSliceVar(&projects, "project", nil, "Project the user is a member of (repeatable).")
	create.Flags().BoolVar(&admin, "admin", false, "Make the user an admin of every project.")
	create.Flags().BoolVar(&waitForReady, "wait", true, "Wait until the user's credentials are issued.")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			users := &cloudv1.UserList{}
			if err := c.List(cmd.Context(), users); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADMIN\tPROJECTS\tACCESS KEY\tREADY")
			for _, u := range users.Items {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%v\n", u.Name, u.Spec.Admin, strings.Join(u.Spec.Projects, ","),
					activeKey(&u), conditions.IsTrue(&u, cloudv1.ReadyCondition))
			}
			return tw.Flush()
		},
	}

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user; its keys stop working and its bindings go",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}); err != nil {
				return fmt.Errorf("deleting user %s: %w", args[0], err)
			}
			fmt.Fprintf(g.out, "user/%s deleted\n", args[0])
			return nil
		},
	}

	rotate := &cobra.Command{
		Use:   "rotate-key NAME",
		Short: "Issue a new access key and retire the current one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			u := &cloudv1.User{}
			if err := c.Get(cmd.Context(), client.ObjectKey{Name: args[0]}, u); err != nil {
				return err
			}
			old := activeKey(u)
			base := u.DeepCopy()
			u.Spec.KeyRotation++
			if err := c.Patch(cmd.Context(), u, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
				return fmt.Errorf("rotating the key of %s: %w", args[0], err)
			}
			err = wait.PollUntilContextTimeout(cmd.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				if err := c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
					return false, err
				}
				return u.Status.KeyRotation == u.Spec.KeyRotation && activeKey(u) != old, nil
			})
			if err != nil {
				return fmt.Errorf("waiting for the new key: %w", err)
			}
			fmt.Fprintf(g.out, "user/%s: access key %s issued, %s retired\n", u.Name, activeKey(u), old)
			return nil
		},
	}
	cmd.AddCommand(create, list, del, rotate, newCredentialsCmd(g))
	return cmd
}

func activeKey(u *cloudv1.User) string {
	for i := len(u.Status.AccessKeys) - 1; i >= 0; i-- {
		if u.Status.AccessKeys[i].State == cloudv1.AccessKeyActive {
			return u.Status.AccessKeys[i].AccessKeyID
		}
	}
	return ""
}

type readyObject interface {
	client.Object
	cloudv1.ConditionsAccessor
}

// waitReady waits up to a minute for obj's Ready condition.
func waitReady(ctx context.Context, c client.Client, obj readyObject) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return conditions.IsTrue(obj, cloudv1.ReadyCondition), nil
	})
	if err != nil {
		if c := conditions.Get(obj, cloudv1.ReadyCondition); c != nil {
			return fmt.Errorf("%s is not ready: %s: %s", obj.GetName(), c.Reason, c.Message)
		}
		return fmt.Errorf("waiting for %s: %w", obj.GetName(), err)
	}
	return nil
}

func newProjectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Manage projects (tenants) and their members"}

	var description, manager string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project: a namespace, a default security group and member access",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec: cloudv1.ProjectSpec{Description: description, Manager: manager}}
			if err := c.Create(cmd.Context(), p); err != nil {
				return fmt.Errorf("creating project %s: %w", args[0], err)
			}
			if err := waitReady(cmd.Context(), c, p); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "project/%s created\n", p.Name)
			return nil
		},
	}
	create.Flags().StringVar(&description, "description", "", "What the project is for.")
	create.Flags().StringVar(&manager, "manager", "", "The user who manages the project.")

	list := &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps := &cloudv1.ProjectList{}
			if err := c.List(cmd.Context(), ps); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tNAMESPACE\tMANAGER\tREADY\tDESCRIPTION")
			for _, p := range ps.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", p.Name, p.Status.Namespace, p.Spec.Manager,
					conditions.IsTrue(&p, cloudv1.ReadyCondition), p.Spec.Description)
			}
			return tw.Flush()
		},
	}

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a project; refused while it has instances or volumes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			insts := &cloudv1.InstanceList{}
			if err := c.List(cmd.Context(), insts, client.InNamespace(args[0])); err != nil {
				return err
			}
			vols := &cloudv1.VolumeList{}
			if err := c.List(cmd.Context(), vols, client.InNamespace(args[0])); err != nil {
				return err
			}
			if n, m := len(insts.Items), len(vols.Items); n+m > 0 {
				return fmt.Errorf("project %s still has %d instances and %d volumes; delete them first", args[0], n, m)
			}
			if err := c.Delete(cmd.Context(), &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}); err != nil {
				return fmt.Errorf("deleting project %s: %w", args[0], err)
			}
			fmt.Fprintf(g.out, "project/%s deleted\n", args[0])
			return nil
		},
	}

	member := func(add bool) *cobra.Command {
		use, short := "add-member PROJECT USER", "Make a user a member of a project"
		if !add {
			use, short = "remove-member PROJECT USER", "Remove a user from a project"
		}
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				project, name := args[0], args[1]
				if add {
					if err := c.Get(cmd.Context(), client.ObjectKey{Name: project}, &cloudv1.Project{}); err != nil {
						if apierrors.IsNotFound(err) {
							return fmt.Errorf("project %s does not exist", project)
						}
						return err
					}
				}
				u := &cloudv1.User{}
				if err := c.Get(cmd.Context(), client.ObjectKey{Name: name}, u); err != nil {
					return err
				}
				base := u.DeepCopy()
				has := slices.Contains(u.Spec.Projects, project)
				switch {
				case add && has, !add && !has:
					return errors.New("nothing to change")
				case add:
					u.Spec.Projects = append(u.Spec.Projects, project)
				default:
					u.Spec.Projects = slices.DeleteFunc(u.Spec.Projects, func(p string) bool { return p == project })
				}
				if err := c.Patch(cmd.Context(), u, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
					return fmt.Errorf("updating user %s: %w", name, err)
				}
				fmt.Fprintf(g.out, "user/%s projects: %s\n", name, strings.Join(u.Spec.Projects, ","))
				return nil
			},
		}
	}
	cmd.AddCommand(create, list, del, member(true), member(false))
	return cmd
}
