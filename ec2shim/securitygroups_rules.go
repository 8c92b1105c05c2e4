/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"pinet.io/pinet/cloud"
)

// Input shapes of the ingress actions.

type ipRangeInput struct {
	CidrIP string `ec2:"CidrIp"`
}

type groupPairInput struct {
	GroupName string `ec2:"GroupName"`
	GroupID   string `ec2:"GroupId"`
	UserID    string `ec2:"UserId"`
}

type ipPermissionInput struct {
	IPProtocol string           `ec2:"IpProtocol"`
	FromPort   *int32           `ec2:"FromPort"`
	ToPort     *int32           `ec2:"ToPort"`
	IPRanges   []ipRangeInput   `ec2:"IpRanges,list"`
	Groups     []groupPairInput `ec2:"Groups,list"`
}

// ingressInput holds what Authorize- and RevokeSecurityGroupIngress share: the group, and the
// permissions as IpPermissions.N or in the older flat form.
type ingressInput struct {
	GroupName                  string              `ec2:"GroupName"`
	GroupID                    string              `ec2:"GroupId"`
	IPPermissions              []ipPermissionInput `ec2:"IpPermissions,list"`
	IPProtocol                 string              `ec2:"IpProtocol"`
	FromPort                   *int32              `ec2:"FromPort"`
	ToPort                     *int32              `ec2:"ToPort"`
	CidrIP                     string              `ec2:"CidrIp"`
	SourceSecurityGroupName    string              `ec2:"SourceSecurityGroupName"`
	SourceSecurityGroupOwnerID string              `ec2:"SourceSecurityGroupOwnerId"`
	DryRun                     bool                `ec2:"DryRun"`
}

// toService is the request in the service's terms.
func (in *ingressInput) toService() cloud.IngressInput {
	out := cloud.IngressInput{GroupName: in.GroupName, GroupID: in.GroupID, DryRun: in.DryRun,
		Flat: cloud.FlatPermission{Protocol: in.IPProtocol, FromPort: in.FromPort, ToPort: in.ToPort, CIDR: in.CidrIP,
			SourceGroupName: in.SourceSecurityGroupName, SourceGroupOwnerID: in.SourceSecurityGroupOwnerID}}
	for _, ip := range in.IPPermissions {
		p := cloud.IPPermission{Protocol: ip.IPProtocol, FromPort: ip.FromPort, ToPort: ip.ToPort}
		for _, r := range ip.IPRanges {
			p.CIDRs = append(p.CIDRs, r.CidrIP)
		}
		for _, g := range ip.Groups {
			p.Groups = append(p.Groups, cloud.GroupPair{GroupName: g.GroupName, GroupID: g.GroupID, UserID: g.UserID})
		}
		out.Permissions = append(out.Permissions, p)
	}
	return out
}
