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

package cloud

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"pinet.io/pinet/ec2shim/query"
)

// EC2 error codes the operations answer with (the query package has the protocol's own).
const (
	CodeAuthFailure          = "AuthFailure"
	CodeSignatureMismatch    = "SignatureDoesNotMatch"
	CodeRequestExpired       = "RequestExpired"
	CodeInvalidClientTokenID = "InvalidClientTokenId"
	CodeIncompleteSignature  = "IncompleteSignature"
	CodeMissingAuthToken     = "MissingAuthenticationToken"
	CodeUnauthorized         = "UnauthorizedOperation"
	CodeDryRun               = "DryRunOperation"
	CodeIdempotentMismatch   = "IdempotentParameterMismatch"
	CodeIncorrectState       = "IncorrectInstanceState"
	CodeInsufficientCapacity = "InsufficientInstanceCapacity"
	CodeInstanceLimit        = "InstanceLimitExceeded"
	CodeNotPermitted         = "OperationNotPermitted"
	// CodeInsufficientAddresses: the project's subnet has too few private addresses left.
	CodeInsufficientAddresses = "InsufficientFreeAddressesInSubnet"
	CodeInstanceNotFound      = "InvalidInstanceID.NotFound"
	CodeInstanceMalformed     = "InvalidInstanceID.Malformed"
	CodeAMINotFound           = "InvalidAMIID.NotFound"
	CodeAMIMalformed          = "InvalidAMIID.Malformed"
	CodeAMIUnavailable        = "InvalidAMIID.Unavailable"
	CodeKeyPairNotFound       = "InvalidKeyPair.NotFound"
	CodeKeyPairDuplicate      = "InvalidKeyPair.Duplicate"
	CodeKeyFormat             = "InvalidKey.Format"
	CodeGroupNotFound         = "InvalidGroup.NotFound"
	CodeGroupIDNotFound       = "InvalidGroupId.NotFound"
	CodeGroupDuplicate        = "InvalidGroup.Duplicate"
	CodeGroupInUse            = "InvalidGroup.InUse"
	CodeCannotDelete          = "CannotDelete"
	CodePermissionDuplicate   = "InvalidPermission.Duplicate"
	CodePermissionNotFound    = "InvalidPermission.NotFound"
	CodeVolumeNotFound        = "InvalidVolume.NotFound"
	CodeVolumeInUse           = "VolumeInUse"
	CodeAttachmentNotFound    = "InvalidAttachment.NotFound"
	CodeAllocationNotFound    = "InvalidAllocationID.NotFound"
	CodeAssociationNotFound   = "InvalidAssociationID.NotFound"
	CodeAddressNotFound       = "InvalidAddress.NotFound"
	CodeAddressInUse          = "InvalidIPAddress.InUse"
	CodeAddressLimit          = "AddressLimitExceeded"
	CodeInvalidZone           = "InvalidAvailabilityZone"
	CodeInvalidID             = "InvalidID"
	CodeTagLimit              = "TagLimitExceeded"
	CodeManifestNotFound      = "InvalidManifest"
	CodeInvalidParameter      = query.CodeInvalidParameterValue
	CodeMissingParameter      = query.CodeMissingParameter
	CodeVolumeMalformed       = "InvalidVolumeID.Malformed"
	CodeVolumeZoneMismatch    = "InvalidVolume.ZoneMismatch"
	CodeIncorrectResource     = "IncorrectState"
	CodeSnapshotNotFound      = "InvalidSnapshot.NotFound"
	CodeSnapshotInUse         = "InvalidSnapshot.InUse"
	CodeZoneNotFound          = "InvalidZone.NotFound"
	CodeUnsupported           = "UnsupportedOperation"
	CodeVolumeLimit           = "VolumeLimitExceeded"
	CodeSnapshotLimit         = "SnapshotLimitExceeded"
	CodeResourceLimit         = "ResourceLimitExceeded"
	CodeParamCombination      = "InvalidParameterCombination"
	CodeAllocationMalformed   = "InvalidAllocationID.Malformed"
	CodeAlreadyAssociated     = "Resource.AlreadyAssociated"
	CodeAddressCapacity       = "InsufficientAddressCapacity"
	CodePoolNotFound          = "InvalidPublicIpv4PoolID.NotFound"
	CodeDependencyViolation   = "DependencyViolation"
	CodeGroupIDMalformed      = "InvalidGroupId.Malformed"
	CodeRulesLimit            = "RulesPerSecurityGroupLimitExceeded"
	CodeAMINameDuplicate      = "InvalidAMIName.Duplicate"
	CodeAMINameMalformed      = "InvalidAMIName.Malformed"
	CodeAMIAttributeItem      = "InvalidAMIAttributeItemValue"
	CodeUserIDMalformed       = "InvalidUserID.Malformed"
	CodeRuleNotFound          = "InvalidSecurityGroupRuleId.NotFound"
	// CodeModificationState: the volume's last modification is not completed yet.
	CodeModificationState = "IncorrectModificationState"
	// CodeModificationNotFound: a named volume was never modified.
	CodeModificationNotFound = "InvalidVolumeModification.NotFound"
)

// BadRequest is a client error with an EC2 code.
func BadRequest(code, format string, args ...any) *query.Error {
	return query.Errorf(code, http.StatusBadRequest, format, args...)
}

// InvalidParam is InvalidParameterValue.
func InvalidParam(format string, args ...any) *query.Error {
	return BadRequest(CodeInvalidParameter, format, args...)
}

// NotFound says an id names nothing the caller can see.
func NotFound(code, kind, id string) *query.Error {
	return BadRequest(code, "The %s ID '%s' does not exist", kind, id)
}

// Unavailable is EC2's answer when a controller PiNet waits on did not act in time.
func Unavailable(format string, args ...any) error {
	return query.Errorf("Unavailable", http.StatusServiceUnavailable, format, args...)
}

// clipID keeps an id (or any value a caller sent) that goes back into a message short.
func clipID(id string) string {
	if len(id) > 64 {
		return id[:64] + "..."
	}
	return id
}

// APIError turns a Kubernetes API error from a write into what EC2 would say; anything it does not
// know is internal.
func APIError(err error, what string) error {
	switch {
	case apierrors.IsInvalid(err):
		return InvalidParam("%s: %s", what, invalidCauses(err))
	case apierrors.IsForbidden(err):
		return query.Errorf(CodeUnauthorized, http.StatusForbidden, "You are not authorized to perform this operation.")
	case apierrors.IsConflict(err):
		return query.Errorf("IncorrectState", http.StatusConflict, "%s changed while the request was processed; try again", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// invalidCauses lists the messages of a validation failure (they name fields, never internals).
func invalidCauses(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		var out string
		for i, c := range status.Status().Details.Causes {
			if i > 0 {
				out += "; "
			}
			out += c.Message
		}
		if out != "" {
			return out
		}
	}
	return "the value is not valid"
}
