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
	"archive/zip"
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/s3client"
)

// The admin pages act on cluster-wide kinds the cloud service has no operations for (the EC2 API
// has none either). Each request is first reviewed against the signed-in user's RBAC, exactly
// as the service reviews its operations (a SubjectAccessReview through the shared authorizer);
// only then does the dashboard read through the cache or write through the API server.

// The manager writes what admins ask for here: new projects and users, key rotations.
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=users,verbs=get;list;watch;create;patch

// objectName is what the API server accepts as a User or Project name (a DNS label).
var objectName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (s *Server) adminRoutes() {
	if s.cfg.Writer == nil || s.cfg.Authz == nil {
		return
	}
	s.mux.HandleFunc("GET /admin/hypervisors", s.authed(pageRequest|anyProject, s.hypervisorsPage))
	s.mux.HandleFunc("GET /admin/projects", s.authed(pageRequest|anyProject, s.adminProjectsPage))
	s.mux.HandleFunc("POST /admin/projects", s.authed(formRequest|anyProject, s.createProject))
	s.mux.HandleFunc("GET /admin/users", s.authed(pageRequest|anyProject, s.usersPage))
	s.mux.HandleFunc("POST /admin/users", s.authed(formRequest|anyProject, s.createUser))
	s.mux.HandleFunc("POST /admin/users/rotate", s.authed(formRequest|anyProject, s.rotateKey))
	s.mux.HandleFunc("POST /admin/users/credentials", s.authed(formRequest|anyProject, s.credentialsZip))
}

// allowed reviews a cluster-wide action for the signed-in user; a refusal is shown and false
// returned.
func (s *Server) allowed(rq *request, verb, resource string) bool {
	ok, err := s.cfg.Authz.Allowed(rq.ctx(), rq.caller.Principal, verb, resource, "")
	if err != nil {
		s.fail(rq, err)
		return false
	}
	if !ok {
		rq.view.Error = "You are not authorized to " + verb + " " + resource + "."
		s.page(rq, http.StatusForbidden, "error.html", "Not authorized", nil)
	}
	return ok
}

// hypervisorRow is one node as the hypervisors page shows it.
type hypervisorRow struct {
	Name, Zone, Ready, DomainType, Heartbeat string
	Capacity, Allocated                      cloudv1.Resources
	Instances                                int32
	Cordoned                                 bool
}

func (s *Server) hypervisorsPage(rq *request) {
	if !s.allowed(rq, "list", "hypervisors") || !s.allowed(rq, "update", "hypervisors") {
		return
	}
	list := &cloudv1.HypervisorList{}
	if err := s.cfg.Client.List(rq.ctx(), list); err != nil {
		s.fail(rq, err)
		return
	}
	var rows []hypervisorRow
	for _, hv := range list.Items {
		row := hypervisorRow{Name: hv.Name, Zone: hv.Spec.Zone, Ready: "False", DomainType: string(hv.Status.DomainType),
			Capacity: hv.Status.Capacity, Allocated: hv.Status.Allocated, Instances: hv.Status.Instances,
			Cordoned: hv.Spec.Unschedulable}
		if conditions.IsTrue(&hv, cloudv1.ReadyCondition) {
			row.Ready = "True"
		}
		if hb := hv.Status.LastHeartbeatTime; hb != nil {
			row.Heartbeat = hb.UTC().Format("2006-01-02 15:04:05")
		}
		rows = append(rows, row)
	}
	rq.view.Nav = "admin"
	s.page(rq, http.StatusOK, "hypervisors.html", "Hypervisors", rows)
}

func (s *Server) adminProjectsPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showAdminProjects(rq, http.StatusOK)
}

func (s *Server) showAdminProjects(rq *request, status int) {
	if !s.allowed(rq, "list", "projects") {
		return
	}
	list := &cloudv1.ProjectList{}
	if err := s.cfg.Client.List(rq.ctx(), list); err != nil {
		s.fail(rq, err)
		return
	}
	rq.view.Nav = "admin"
	s.page(rq, status, "adminprojects.html", "Projects", list.Items)
}

func (s *Server) createProject(rq *request) {
	if !s.allowed(rq, "create", "projects") {
		return
	}
	name := strings.TrimSpace(rq.r.PostFormValue("name"))
	if !objectName.MatchString(name) {
		rq.view.Error = "A project name is lower-case letters, digits and dashes, at most 63, starting and ending with a letter or digit."
		s.showAdminProjects(rq, http.StatusBadRequest)
		return
	}
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: cloudv1.ProjectSpec{Description: strings.TrimSpace(rq.r.PostFormValue("description")),
			Manager: strings.TrimSpace(rq.r.PostFormValue("manager"))}}
	if err := s.cfg.Writer.Create(rq.ctx(), p); err != nil {
		rq.view.Error = s.apiWords(rq, "project "+name, err)
		s.showAdminProjects(rq, http.StatusBadRequest)
		return
	}
	http.Redirect(rq.w, rq.r, "/admin/projects?done=project-create", http.StatusSeeOther)
}

// userRow is one user as the users page shows it.
type userRow struct {
	Name, Projects, ActiveKey, Ready string
	Admin                            bool
	// System marks PiNet's own users, whose keys the dashboard neither rotates nor hands out.
	System bool
}

// systemUser is one of the users PiNet's own components act as: their keys are the cloud's, not
// a person's, and rotating them from a web page would cut the components off.
func systemUser(name string) bool {
	_, node := s3client.NodeOfUser(name)
	return name == s3client.SystemUser || node
}

func (s *Server) usersPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showUsers(rq, http.StatusOK)
}

func (s *Server) showUsers(rq *request, status int) {
	if !s.allowed(rq, "list", "users") {
		return
	}
	list := &cloudv1.UserList{}
	if err := s.cfg.Client.List(rq.ctx(), list); err != nil {
		s.fail(rq, err)
		return
	}
	var rows []userRow
	for _, u := range list.Items {
		row := userRow{Name: u.Name, Projects: strings.Join(u.Spec.Projects, ", "), Admin: u.Spec.Admin, Ready: "False",
			System: systemUser(u.Name)}
		for _, k := range u.Status.AccessKeys {
			if k.State == cloudv1.AccessKeyActive {
				row.ActiveKey = k.AccessKeyID
			}
		}
		if conditions.IsTrue(&u, cloudv1.ReadyCondition) {
			row.Ready = "True"
		}
		rows = append(rows, row)
	}
	rq.view.Nav = "admin"
	s.page(rq, status, "users.html", "Users", rows)
}

func (s *Server) createUser(rq *request) {
	if !s.allowed(rq, "create", "users") {
		return
	}
	name := strings.TrimSpace(rq.r.PostFormValue("name"))
	var projects []string
	for _, p := range strings.FieldsFunc(rq.r.PostFormValue("projects"), func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(projects, p) {
			projects = append(projects, p)
		}
	}
	if !objectName.MatchString(name) {
		rq.view.Error = "A user name is lower-case letters, digits and dashes, at most 63, starting and ending with a letter or digit."
		s.showUsers(rq, http.StatusBadRequest)
		return
	}
	for _, p := range projects {
		if err := s.cfg.Client.Get(rq.ctx(), clientKey("", p), &cloudv1.Project{}); err != nil {
			rq.view.Error = "There is no project " + p + "."
			s.showUsers(rq, http.StatusBadRequest)
			return
		}
	}
	u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: cloudv1.UserSpec{Projects: projects, Admin: rq.r.PostFormValue("admin") == "true"}}
	if err := s.cfg.Writer.Create(rq.ctx(), u); err != nil {
		rq.view.Error = s.apiWords(rq, "user "+name, err)
		s.showUsers(rq, http.StatusBadRequest)
		return
	}
	http.Redirect(rq.w, rq.r, "/admin/users?done=user-create", http.StatusSeeOther)
}

// rotateKey asks the user controller for a new access key; the old one is retired, which ends
// every dashboard session signed in with it.
func (s *Server) rotateKey(rq *request) {
	if !s.allowed(rq, "update", "users") {
		return
	}
	if systemUser(rq.r.PostFormValue("name")) {
		rq.view.Error = "The keys of PiNet's own users are rotated with kubectl, not here."
		s.showUsers(rq, http.StatusForbidden)
		return
	}
	u := &cloudv1.User{}
	if err := s.cfg.Writer.Get(rq.ctx(), clientKey("", rq.r.PostFormValue("name")), u); err != nil {
		rq.view.Error = s.apiWords(rq, "user "+rq.r.PostFormValue("name"), err)
		s.showUsers(rq, http.StatusNotFound)
		return
	}
	patch := client.MergeFromWithOptions(u.DeepCopy(), client.MergeFromWithOptimisticLock{})
	u.Spec.KeyRotation++
	if err := s.cfg.Writer.Patch(rq.ctx(), u, patch); err != nil {
		rq.view.Error = s.apiWords(rq, "user "+u.Name, err)
		s.showUsers(rq, http.StatusConflict)
		return
	}
	http.Redirect(rq.w, rq.r, "/admin/users?done=user-rotate", http.StatusSeeOther)
}

// credentialsZip answers a user's credentials as a zip: an rc file with the active access key
// (in the user's first project) and the endpoints, the user's certificate and key, and the
// cloud CA's certificate.
func (s *Server) credentialsZip(rq *request) {
	if !s.allowed(rq, "get", "users") {
		return
	}
	name := rq.r.PostFormValue("name")
	if systemUser(name) {
		rq.view.Error = "The credentials of PiNet's own users are not handed out."
		s.showUsers(rq, http.StatusForbidden)
		return
	}
	u := &cloudv1.User{}
	sec := &corev1.Secret{}
	ca := &corev1.Secret{}
	ctx := rq.ctx()
	err := s.cfg.Client.Get(ctx, clientKey("", name), u)
	if err == nil {
		err = s.cfg.Client.Get(ctx, clientKey(s.cfg.SystemNamespace, credentials.SecretName(name)), sec)
	}
	if err == nil {
		err = s.cfg.Client.Get(ctx, clientKey(s.cfg.SystemNamespace, cloudca.SecretName), ca)
	}
	if err != nil {
		rq.view.Error = s.apiWords(rq, "the credentials of user "+name, err)
		s.showUsers(rq, http.StatusNotFound)
		return
	}
	keys, err := credentials.ReadKeys(sec)
	if err != nil {
		s.fail(rq, err)
		return
	}
	i := slices.IndexFunc(keys, func(k credentials.StoredKey) bool { return k.State == string(cloudv1.AccessKeyActive) })
	if i < 0 {
		rq.view.Error = "User " + name + " has no active access key yet."
		s.showUsers(rq, http.StatusConflict)
		return
	}
	keyID := keys[i].AccessKeyID
	if len(u.Spec.Projects) > 0 {
		keyID += ":" + u.Spec.Projects[0]
	}
	rc := fmt.Sprintf("# PiNet credentials of user %s\nexport EC2_URL=%s\nexport AWS_ACCESS_KEY_ID=%s\n"+
		"export AWS_SECRET_ACCESS_KEY=%s\nexport EC2_ACCESS_KEY=%s\nexport EC2_SECRET_KEY=%s\n"+
		"export EC2_CERT=${PWD}/cert.pem\nexport EC2_PRIVATE_KEY=${PWD}/pk.pem\nexport EUCALYPTUS_CERT=${PWD}/cacert.pem\n",
		name, s.cfg.EC2Endpoint, keyID, keys[i].SecretAccessKey, keyID, keys[i].SecretAccessKey)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"pinetrc", []byte(rc)}, {"cert.pem", sec.Data[credentials.SecretCertKey]},
		{"pk.pem", sec.Data[credentials.SecretCertKeyKey]}, {"cacert.pem", ca.Data[corev1.TLSCertKey]}} {
		w, err := zw.Create(f.name)
		if err == nil {
			_, err = w.Write(f.data)
		}
		if err != nil {
			s.fail(rq, err)
			return
		}
	}
	if err := zw.Close(); err != nil {
		s.fail(rq, err)
		return
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFileName(name+"-credentials", ".zip")}))
	_, _ = rq.w.Write(buf.Bytes())
}

// apiWords says in words what went wrong with an API server write or read: the validation's own
// messages, a name already taken, something missing; anything else is logged and said vaguely.
func (s *Server) apiWords(rq *request, what string, err error) string {
	switch {
	case apierrors.IsAlreadyExists(err):
		return strings.ToUpper(what[:1]) + what[1:] + " already exists."
	case apierrors.IsNotFound(err):
		return strings.ToUpper(what[:1]) + what[1:] + " does not exist."
	}
	if e := query.ErrorFrom(cloud.APIError(err, what)); e.Code != query.CodeInternalError {
		return e.Message
	}
	msg, _ := s.serviceError(rq.ctx(), err)
	return msg
}
