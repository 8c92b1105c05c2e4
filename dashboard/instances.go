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

package dashboard

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// The states the list can be filtered by, in the order the filter shows them.
var instanceStates = []string{"pending", "running", "stopping", "stopped", "shutting-down", "terminated"}

func (s *Server) instanceRoutes() {
	s.mux.HandleFunc("GET /instances", s.authed(pageRequest, s.instancesPage))
	s.mux.HandleFunc("GET /instances.json", s.authed(jsonRequest, s.instancesJSON))
	s.mux.HandleFunc("GET /instances/{id}", s.authed(pageRequest, s.instancePage))
	s.mux.HandleFunc("GET /instances/{id}/console.json", s.authed(jsonRequest, s.consoleJSON))
	s.mux.HandleFunc("POST /instances/{id}/{action}", s.authed(formRequest, s.instanceAction))
}

// instanceRow is one instance as the list shows it (and its script receives it).
type instanceRow struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	State      string `json:"state"`
	StateClass string `json:"stateClass"`
	Type       string `json:"type"`
	Image      string `json:"image"`
	KeyName    string `json:"keyName"`
	PrivateIP  string `json:"privateIp"`
	PublicIP   string `json:"publicIp"`
	Zone       string `json:"zone"`
	Node       string `json:"node"`
	Launched   string `json:"launched"`
	Reason     string `json:"reason"`
	Groups     string `json:"groups"`
}

// instancesData is the list page's data.
type instancesData struct {
	Rows   []instanceRow
	States []string
	State  string
}

// listInstances asks the service for the caller's instances (in one state if asked) and shows
// them newest first.
func (s *Server) listInstances(rq *request, ids []string, state string) ([]instanceRow, error) {
	in := cloud.DescribeInstancesInput{InstanceIDs: ids}
	if state != "" {
		in.Filters = []query.Filter{{Name: "instance-state-name", Values: []string{state}}}
	}
	res, err := s.describeAll(rq, in)
	if err != nil {
		return nil, err
	}
	nodes := s.nodesOf(rq)
	var rows []instanceRow
	for _, r := range res {
		for _, i := range r.Instances {
			rows = append(rows, toRow(i, nodes[i.InstanceID]))
		}
	}
	slices.Reverse(rows)
	return rows, nil
}

// describeAll pages through DescribeInstances.
func (s *Server) describeAll(rq *request, in cloud.DescribeInstancesInput) ([]cloud.Reservation, error) {
	var out []cloud.Reservation
	for {
		res, next, err := s.cfg.Service.DescribeInstances(rq.ctx(), rq.caller, in)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		if next == "" {
			return out, nil
		}
		in.NextToken = next
	}
}

func toRow(i cloud.Instance, node string) instanceRow {
	var groups []string
	for _, g := range i.Groups {
		groups = append(groups, g.GroupName)
	}
	row := instanceRow{ID: i.InstanceID, Name: i.Tags["Name"], State: i.State.Name, StateClass: stateClass(i.State.Name),
		Type: i.InstanceType, Image: i.ImageID, KeyName: i.KeyName, PrivateIP: i.PrivateIPAddress,
		PublicIP: i.PublicIPAddress, Zone: i.Placement.AvailabilityZone, Node: node,
		Reason: i.Reason, Groups: strings.Join(groups, ", ")}
	if !i.LaunchTime.IsZero() {
		row.Launched = i.LaunchTime.UTC().Format(time.DateTime)
	}
	return row
}

// nodesOf maps the caller's project's instance ids to the hypervisors they run on. The service
// does not show the node (EC2 has no such field), so the dashboard reads it from the instances
// in the caller's own namespace, through the manager's cache, after the service has authorized
// the caller to list them. A failed read only leaves the column empty.
func (s *Server) nodesOf(rq *request) map[string]string {
	list := &cloudv1.InstanceList{}
	if err := s.cfg.Client.List(rq.ctx(), list, client.InNamespace(rq.caller.Project())); err != nil {
		return nil
	}
	out := map[string]string{}
	for _, inst := range list.Items {
		id := inst.Status.InstanceID
		if id == "" {
			id = inst.Name
		}
		out[id] = inst.Status.Hypervisor
	}
	return out
}

func (s *Server) instancesPage(rq *request) {
	state := rq.r.URL.Query().Get("state")
	if state != "" && !slices.Contains(instanceStates, state) {
		state = ""
	}
	rows, err := s.listInstances(rq, nil, state)
	if err != nil {
		s.fail(rq, err)
		return
	}
	rq.view.Notice = noticeOf(rq.r)
	s.page(rq, http.StatusOK, "instances.html", "Instances", instancesData{Rows: rows, States: instanceStates, State: state})
}

func (s *Server) instancesJSON(rq *request) {
	state := rq.r.URL.Query().Get("state")
	if state != "" && !slices.Contains(instanceStates, state) {
		state = ""
	}
	rows, err := s.listInstances(rq, nil, state)
	if err != nil {
		msg, status := s.serviceError(rq.ctx(), err)
		writeJSON(rq.w, status, map[string]string{"error": msg})
		return
	}
	if rows == nil {
		rows = []instanceRow{}
	}
	writeJSON(rq.w, http.StatusOK, map[string]any{"instances": rows})
}

// instanceData is an instance page's data.
type instanceData struct {
	Row     instanceRow
	Console string
	// Actions are those the instance's state allows.
	Actions []string
	// Protections are the instance's termination and stop protection.
	Protections []protectionView
	// Groups are the project's security groups, those the instance is in marked; empty when
	// they cannot be changed (a terminated instance) or read.
	Groups []groupChoice
}

// groupChoice is one of the project's security groups on an instance's page.
type groupChoice struct {
	ID, Name string
	Member   bool
}

// protectionView is one of an instance's protections as its page shows it.
type protectionView struct {
	// Kind names it in the action that switches it: termination or stop.
	Kind, Title string
	// State is "on" or "off", "" when unknown (a failed read, or a terminated instance, whose
	// protection no longer changes): the page then offers no switch.
	State string
}

// oneInstance describes one instance of the caller's project; ok is false (and the page shown)
// when it fails. Another project's instance is not found, exactly as through EC2.
func (s *Server) oneInstance(rq *request, id string) (instanceRow, bool) {
	rows, err := s.listInstances(rq, []string{id}, "")
	if err != nil {
		if e := query.ErrorFrom(err); strings.HasPrefix(e.Code, "InvalidInstanceID.") {
			s.notFound(rq, "Instance "+id)
			return instanceRow{}, false
		}
		s.fail(rq, err)
		return instanceRow{}, false
	}
	if len(rows) != 1 {
		s.notFound(rq, "Instance "+id)
		return instanceRow{}, false
	}
	return rows[0], true
}

func (s *Server) instancePage(rq *request) {
	row, ok := s.oneInstance(rq, rq.r.PathValue("id"))
	if !ok {
		return
	}
	rq.view.Notice = noticeOf(rq.r)
	s.showInstance(rq, http.StatusOK, row)
}

func (s *Server) showInstance(rq *request, status int, row instanceRow) {
	rq.view.Nav = "instances"
	d := instanceData{Row: row, Actions: actionsFor(row.State)}
	d.Protections = []protectionView{{Kind: "termination", Title: "Termination protection"}, {Kind: "stop", Title: "Stop protection"}}
	if row.State != "terminated" && row.State != "shutting-down" {
		d.Protections[0].State = s.protection(rq, row.ID, "disableApiTermination")
		d.Protections[1].State = s.protection(rq, row.ID, "disableApiStop")
		d.Groups = s.groupChoices(rq, row.ID)
	}
	s.page(rq, status, "instance.html", row.ID, d)
}

// groupChoices are the project's groups with the instance's marked, through the service; nil
// when either cannot be read (the page then offers no change).
func (s *Server) groupChoices(rq *request, id string) []groupChoice {
	attr, err := s.cfg.Service.DescribeInstanceAttribute(rq.ctx(), rq.caller, cloud.InstanceAttributeInput{InstanceID: id, Attribute: "groupSet"})
	if err != nil {
		return nil
	}
	groups, _, err := s.cfg.Service.DescribeSecurityGroups(rq.ctx(), rq.caller, cloud.DescribeSecurityGroupsInput{})
	if err != nil {
		return nil
	}
	member := map[string]bool{}
	for _, g := range attr.Groups {
		member[g.GroupID] = true
	}
	out := make([]groupChoice, 0, len(groups))
	for _, g := range groups {
		out = append(out, groupChoice{ID: g.ID, Name: g.Name, Member: member[g.ID]})
	}
	return out
}

// protection reads one of an instance's protections through the service: "on", "off", or ""
// when it cannot be read (the page then offers no switch).
func (s *Server) protection(rq *request, id, attribute string) string {
	attr, err := s.cfg.Service.DescribeInstanceAttribute(rq.ctx(), rq.caller, cloud.InstanceAttributeInput{InstanceID: id, Attribute: attribute})
	switch {
	case err != nil:
		return ""
	case attr.Value == "true":
		return "on"
	}
	return "off"
}

// actionsFor are the buttons an instance in state shows.
func actionsFor(state string) []string {
	switch state {
	case "running":
		return []string{"stop", "reboot", "terminate"}
	case "pending":
		return []string{"terminate"}
	case "stopped":
		return []string{"start", "terminate"}
	case "stopping":
		return []string{"terminate"}
	}
	return nil
}

// consoleData is what the console script receives.
type consoleData struct {
	Output    string   `json:"output"`
	Timestamp string   `json:"timestamp"`
	State     string   `json:"state"`
	Class     string   `json:"stateClass"`
	Actions   []string `json:"actions"`
	Error     string   `json:"error,omitempty"`
}

func (s *Server) consoleJSON(rq *request) {
	id := rq.r.PathValue("id")
	out, err := s.cfg.Service.GetConsoleOutput(rq.ctx(), rq.caller, cloud.GetConsoleOutputInput{InstanceID: id, Latest: true})
	if err != nil {
		msg, status := s.serviceError(rq.ctx(), err)
		if e := query.ErrorFrom(err); strings.HasPrefix(e.Code, "InvalidInstanceID.") {
			status = http.StatusNotFound
		}
		writeJSON(rq.w, status, consoleData{Error: msg})
		return
	}
	data := consoleData{Output: string(out.Output)}
	if !out.Timestamp.IsZero() {
		data.Timestamp = out.Timestamp.UTC().Format(time.DateTime)
	}
	// The state rides along so the page follows it without a reload.
	if rows, err := s.listInstances(rq, []string{id}, ""); err == nil && len(rows) == 1 {
		data.State, data.Class, data.Actions = rows[0].State, rows[0].StateClass, actionsFor(rows[0].State)
	}
	if data.Actions == nil {
		data.Actions = []string{}
	}
	writeJSON(rq.w, http.StatusOK, data)
}

// instanceAction stops, starts, reboots or terminates one instance, turns its termination or
// stop protection on or off, changes its security groups or its name, or makes an image of it,
// through the service.
func (s *Server) instanceAction(rq *request) {
	id, action := rq.r.PathValue("id"), rq.r.PathValue("action")
	in := cloud.InstanceIDsInput{InstanceIDs: []string{id}}
	var err error
	switch action {
	case "stop":
		_, err = s.cfg.Service.StopInstances(rq.ctx(), rq.caller, in)
	case "start":
		_, err = s.cfg.Service.StartInstances(rq.ctx(), rq.caller, in)
	case "reboot":
		err = s.cfg.Service.RebootInstances(rq.ctx(), rq.caller, in)
	case "terminate":
		_, err = s.cfg.Service.TerminateInstances(rq.ctx(), rq.caller, in)
	case "termination-protection-on", "termination-protection-off":
		on := action == "termination-protection-on"
		err = s.cfg.Service.ModifyInstanceAttribute(rq.ctx(), rq.caller, cloud.ModifyInstanceAttributeInput{InstanceID: id, DisableAPITermination: &on})
	case "stop-protection-on", "stop-protection-off":
		on := action == "stop-protection-on"
		err = s.cfg.Service.ModifyInstanceAttribute(rq.ctx(), rq.caller, cloud.ModifyInstanceAttributeInput{InstanceID: id, DisableAPIStop: &on})
	case "name":
		err = s.rename(rq, id, strings.TrimSpace(rq.r.PostFormValue("name")))
	case "image":
		_, err = s.cfg.Service.CreateImage(rq.ctx(), rq.caller, cloud.CreateImageInput{InstanceID: id,
			Name: strings.TrimSpace(rq.r.PostFormValue("name")), Description: strings.TrimSpace(rq.r.PostFormValue("description")),
			NoReboot: rq.r.PostFormValue("no_reboot") == "on"})
		if err == nil {
			http.Redirect(rq.w, rq.r, "/images?done=image-create", http.StatusSeeOther)
			return
		}
	case "groups":
		groups := rq.r.PostForm["groups"]
		if len(groups) == 0 {
			err = query.Errorf(cloud.CodeMissingParameter, http.StatusBadRequest, "Choose at least one security group.")
			break
		}
		err = s.cfg.Service.ModifyInstanceAttribute(rq.ctx(), rq.caller, cloud.ModifyInstanceAttributeInput{InstanceID: id, Groups: groups})
	default:
		http.NotFound(rq.w, rq.r)
		return
	}
	if err != nil {
		if e := query.ErrorFrom(err); strings.HasPrefix(e.Code, "InvalidInstanceID.") {
			s.notFound(rq, "Instance "+id)
			return
		}
		msg, status := s.serviceError(rq.ctx(), err)
		row, ok := s.oneInstance(rq, id)
		if !ok {
			return
		}
		rq.view.Error = msg
		s.showInstance(rq, status, row)
		return
	}
	http.Redirect(rq.w, rq.r, "/instances/"+id+"?done="+action, http.StatusSeeOther)
}

// rename sets the instance's Name tag through the service, or removes it when name is empty.
func (s *Server) rename(rq *request, id, name string) error {
	if name == "" {
		return s.cfg.Service.DeleteTags(rq.ctx(), rq.caller, cloud.DeleteTagsInput{ResourceIDs: []string{id},
			Tags: []cloud.TagToDelete{{Key: "Name"}}})
	}
	return s.cfg.Service.CreateTags(rq.ctx(), rq.caller, cloud.CreateTagsInput{ResourceIDs: []string{id},
		Tags: []cloud.Tag{{Key: "Name", Value: name}}})
}

// notices are what a page says after a redirect (?done=…): only the dashboard's own words.
var notices = map[string]string{
	"stop": "Stopping the instance.", "start": "Starting the instance.",
	"reboot": "Rebooting the instance.", "terminate": "Terminating the instance.",
	"termination-protection-on": "Termination protection is on.", "termination-protection-off": "Termination protection is off.",
	"stop-protection-on": "Stop protection is on.", "stop-protection-off": "Stop protection is off.",
	"groups": "Security groups changed.", "name": "Name changed.",
	"launch": "Launching.", "keypair-import": "Key pair imported.", "keypair-delete": "Key pair deleted.",
	"volume-create": "Creating the volume.", "volume-attach": "Attaching the volume.",
	"volume-detach": "Detaching the volume.", "volume-delete": "Deleting the volume.",
	"snapshot-create": "Taking the snapshot.", "snapshot-delete": "Deleting the snapshot.",
	"snapshot-copy":  "Copying the snapshot into this project.",
	"snapshot-share": "Create volume permission added.", "snapshot-unshare": "Create volume permission removed.",
	"volume-grow":      "Growing the volume. An instance it is attached to sees the new size after it is stopped and started.",
	"address-allocate": "Address allocated.", "address-associate": "Address associated.",
	"address-disassociate": "Address disassociated.", "address-release": "Address released.",
	"group-create": "Security group created.", "group-delete": "Security group deleted.",
	"group-authorize": "Rule added.", "group-revoke": "Rule removed.",
	"image-share": "Launch permission added.", "image-unshare": "Launch permission removed.",
	"image-deregister": "Image deregistered.", "project-create": "Project created.", "user-create": "User created.",
	"image-create":  "Making the image: the instance's node is copying its root disk.",
	"image-copy":    "Copying the image into this project.",
	"image-protect": "Deregistration protection enabled.", "image-unprotect": "Deregistration protection disabled.",
	"user-rotate": "A new access key is being issued; the old one is retired.",
}

func noticeOf(r *http.Request) string { return notices[r.URL.Query().Get("done")] }
