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
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	"pinet.io/pinet/cloud"
)

// maxLaunchCount bounds how many instances one form launches.
const maxLaunchCount = 20

// launchForm is what the launch form holds (and shows again after a refusal).
type launchForm struct {
	Image, Type, KeyName, UserData, Zone string
	// Name is the instances' Name tag ("" for none).
	Name   string
	Groups []string
	Count  int
	// TerminationProtection and StopProtection launch with EC2's protections on.
	TerminationProtection, StopProtection bool
	// ClientToken makes a form posted twice launch once.
	ClientToken string
	// VolumeGiB and VolumeSnapshot, when either is given, give each instance a volume at
	// launchVolumeDevice; VolumeKeep keeps it after the instance terminates.
	VolumeGiB      int32
	VolumeSnapshot string
	VolumeKeep     bool
}

// launchVolumeDevice is where the launch form's volume is attached.
const launchVolumeDevice = "/dev/sdf"

// launchData is the launch page's data: the form and its choices.
type launchData struct {
	Form          launchForm
	Images        []cloud.Image
	Types         []cloud.InstanceType
	KeyPairs      []cloud.KeyPair
	Groups        []cloud.SecurityGroup
	Zones         []cloud.Zone
	SelectedGroup map[string]bool
	VolumeDevice  string
}

func (s *Server) launchRoutes() {
	s.mux.HandleFunc("GET /launch", s.authed(pageRequest, s.launchPage))
	s.mux.HandleFunc("POST /launch", s.authed(formRequest, s.launch))
}

func (s *Server) launchPage(rq *request) {
	f := launchForm{Image: rq.r.URL.Query().Get("image"), Type: "m1.small", Count: 1, ClientToken: randomToken()}
	s.showLaunch(rq, http.StatusOK, f)
}

// showLaunch renders the launch form with the choices the caller has.
func (s *Server) showLaunch(rq *request, status int, f launchForm) {
	ctx, c := rq.ctx(), rq.caller
	d := launchData{Form: f, SelectedGroup: map[string]bool{}, VolumeDevice: launchVolumeDevice}
	for _, g := range f.Groups {
		d.SelectedGroup[g] = true
	}
	var err error
	if d.Images, err = s.machineImages(rq); err != nil {
		s.fail(rq, err)
		return
	}
	if d.Types, _, err = s.cfg.Service.DescribeInstanceTypes(ctx, c, cloud.DescribeInstanceTypesInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	if d.KeyPairs, err = s.cfg.Service.DescribeKeyPairs(ctx, c, cloud.DescribeKeyPairsInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	groups, _, err := s.cfg.Service.DescribeSecurityGroups(ctx, c, cloud.DescribeSecurityGroupsInput{})
	if err != nil {
		s.fail(rq, err)
		return
	}
	d.Groups = groups
	if d.Zones, err = s.cfg.Service.DescribeAvailabilityZones(ctx, c, cloud.DescribeZonesInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	rq.view.Nav = "launch"
	s.page(rq, status, "launch.html", "Launch instances", d)
}

func (s *Server) launch(rq *request) {
	r := rq.r
	f := launchForm{
		Image: strings.TrimSpace(r.PostFormValue("image")), Type: r.PostFormValue("type"),
		KeyName: r.PostFormValue("key_name"), UserData: r.PostFormValue("user_data"),
		Zone: r.PostFormValue("zone"), Groups: r.PostForm["groups"], ClientToken: r.PostFormValue("client_token"),
		Name:                  strings.TrimSpace(r.PostFormValue("name")),
		TerminationProtection: r.PostFormValue("termination_protection") != "",
		StopProtection:        r.PostFormValue("stop_protection") != "",
		VolumeSnapshot:        strings.TrimSpace(r.PostFormValue("volume_snapshot")),
		VolumeKeep:            r.PostFormValue("volume_keep") != "",
	}
	count, err := strconv.Atoi(r.PostFormValue("count"))
	f.Count = count
	var volErr error
	if gib := strings.TrimSpace(r.PostFormValue("volume_gib")); gib != "" {
		var n int64
		n, volErr = strconv.ParseInt(gib, 10, 32)
		f.VolumeGiB = int32(n)
	}
	switch {
	case err != nil || count < 1 || count > maxLaunchCount:
		rq.view.Error = "Count must be a whole number from 1 to " + strconv.Itoa(maxLaunchCount) + "."
		s.showLaunch(rq, http.StatusBadRequest, f)
		return
	case volErr != nil:
		rq.view.Error = "Volume size must be a whole number of GiB."
		s.showLaunch(rq, http.StatusBadRequest, f)
		return
	case f.Image == "":
		rq.view.Error = "Choose an image to launch."
		s.showLaunch(rq, http.StatusBadRequest, f)
		return
	}
	in := cloud.RunInstancesInput{ImageID: f.Image, MinCount: int32(count), MaxCount: int32(count),
		InstanceType: f.Type, KeyName: f.KeyName, SecurityGroups: f.Groups, ClientToken: f.ClientToken,
		DisableAPITermination: f.TerminationProtection, DisableAPIStop: f.StopProtection}
	if f.UserData != "" {
		in.UserData = []byte(f.UserData)
	}
	if f.Zone != "" {
		in.Placement = &cloud.Placement{AvailabilityZone: f.Zone}
	}
	if f.VolumeGiB != 0 || f.VolumeSnapshot != "" {
		ebs := &cloud.EBSInput{SnapshotID: f.VolumeSnapshot, DeleteOnTermination: ptr.To(!f.VolumeKeep)}
		if f.VolumeGiB != 0 {
			ebs.VolumeSize = ptr.To(f.VolumeGiB)
		}
		in.BlockDeviceMappings = []cloud.BlockDeviceMappingInput{{DeviceName: launchVolumeDevice, EBS: ebs}}
	}
	if f.Name != "" {
		in.TagSpecifications = []cloud.TagSpecification{{ResourceType: "instance", Tags: []cloud.Tag{{Key: "Name", Value: f.Name}}}}
	}
	_, err = s.cfg.Service.RunInstances(rq.ctx(), rq.caller, in)
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		f.ClientToken = randomToken()
		s.showLaunch(rq, status, f)
		return
	}
	// The list shows the new instances and follows them to running.
	http.Redirect(rq.w, r, "/instances?done=launch", http.StatusSeeOther)
}
