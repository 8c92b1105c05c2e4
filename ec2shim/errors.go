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
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/awsauth"
)

// EC2 error codes the actions answer with (the query package has the protocol's own).
const (
	codeAuthFailure          = "AuthFailure"
	codeSignatureMismatch    = "SignatureDoesNotMatch"
	codeRequestExpired       = "RequestExpired"
	codeInvalidClientTokenID = "InvalidClientTokenId"
	codeIncompleteSignature  = "IncompleteSignature"
	codeMissingAuthToken     = "MissingAuthenticationToken"
	codeUnauthorized         = "UnauthorizedOperation"
	codeDryRun               = "DryRunOperation"
	codeIdempotentMismatch   = "IdempotentParameterMismatch"
	codeIncorrectState       = "IncorrectInstanceState"
	codeInsufficientCapacity = "InsufficientInstanceCapacity"
	codeInstanceLimit        = "InstanceLimitExceeded"
	codeInstanceNotFound     = "InvalidInstanceID.NotFound"
	codeInstanceMalformed    = "InvalidInstanceID.Malformed"
	codeAMINotFound          = "InvalidAMIID.NotFound"
	codeAMIMalformed         = "InvalidAMIID.Malformed"
	codeAMIUnavailable       = "InvalidAMIID.Unavailable"
	codeKeyPairNotFound      = "InvalidKeyPair.NotFound"
	codeKeyPairDuplicate     = "InvalidKeyPair.Duplicate"
	codeKeyFormat            = "InvalidKey.Format"
	codeGroupNotFound        = "InvalidGroup.NotFound"
	codeGroupIDNotFound      = "InvalidGroupId.NotFound"
	codeGroupDuplicate       = "InvalidGroup.Duplicate"
	codeGroupInUse           = "InvalidGroup.InUse"
	codeCannotDelete         = "CannotDelete"
	codePermissionDuplicate  = "InvalidPermission.Duplicate"
	codePermissionNotFound   = "InvalidPermission.NotFound"
	codeVolumeNotFound       = "InvalidVolume.NotFound"
	codeVolumeInUse          = "VolumeInUse"
	codeAttachmentNotFound   = "InvalidAttachment.NotFound"
	codeAllocationNotFound   = "InvalidAllocationID.NotFound"
	codeAssociationNotFound  = "InvalidAssociationID.NotFound"
	codeAddressNotFound      = "InvalidAddress.NotFound"
	codeAddressInUse         = "InvalidIPAddress.InUse"
	codeAddressLimit         = "AddressLimitExceeded"
	codeInvalidZone          = "InvalidAvailabilityZone"
	codeInvalidID            = "InvalidID"
	codeTagLimit             = "TagLimitExceeded"
	codeManifestNotFound     = "InvalidManifest"
	codeInvalidParameter     = query.CodeInvalidParameterValue
	codeMissingParameter     = query.CodeMissingParameter
	codeVolumeMalformed      = "InvalidVolumeID.Malformed"
	codeVolumeZoneMismatch   = "InvalidVolume.ZoneMismatch"
	codeIncorrectResource    = "IncorrectState"
	codeSnapshotNotFound     = "InvalidSnapshot.NotFound"
	codeZoneNotFound         = "InvalidZone.NotFound"
	codeUnsupported          = "UnsupportedOperation"
	codeVolumeLimit          = "VolumeLimitExceeded"
	codeParamCombination     = "InvalidParameterCombination"
	codeAllocationMalformed  = "InvalidAllocationID.Malformed"
	codeAlreadyAssociated    = "Resource.AlreadyAssociated"
	codeAddressCapacity      = "InsufficientAddressCapacity"
	codePoolNotFound         = "InvalidPublicIpv4PoolID.NotFound"
	codeDependencyViolation  = "DependencyViolation"
	codeGroupIDMalformed     = "InvalidGroupId.Malformed"
	codeRulesLimit           = "RulesPerSecurityGroupLimitExceeded"
	codeAMINameDuplicate     = "InvalidAMIName.Duplicate"
	codeAMINameMalformed     = "InvalidAMIName.Malformed"
	codeAMIAttributeItem     = "InvalidAMIAttributeItemValue"
	codeUserIDMalformed      = "InvalidUserID.Malformed"
	codeRuleNotFound         = "InvalidSecurityGroupRuleId.NotFound"
)

// authError maps an authentication failure to EC2's code. A failure of the credential store
// itself is an internal error.
func authError(err error) *query.Error {
	switch {
	case errors.Is(err, awsauth.ErrMissingAuth):
		return query.Errorf(codeMissingAuthToken, http.StatusUnauthorized, "Request is missing Authentication Token")
	case errors.Is(err, awsauth.ErrMalformed):
		return query.Errorf(codeIncompleteSignature, http.StatusBadRequest, "%s", authDetail(err))
	case errors.Is(err, awsauth.ErrUnknownKey):
		return query.Errorf(codeInvalidClientTokenID, http.StatusUnauthorized, "The security token included in the request is invalid.")
	case errors.Is(err, awsauth.ErrRetiredKey):
		return query.Errorf(codeAuthFailure, http.StatusUnauthorized, "AWS was not able to validate the provided access credentials")
	case errors.Is(err, awsauth.ErrSignatureMismatch), errors.Is(err, awsauth.ErrPayloadMismatch):
		return query.Errorf(codeSignatureMismatch, http.StatusForbidden,
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	case errors.Is(err, awsauth.ErrExpired):
		return query.Errorf(codeRequestExpired, http.StatusBadRequest, "Request has expired.")
	case errors.Is(err, awsauth.ErrBodyTooLarge):
		return query.Errorf(query.CodeRequestTooLarge, http.StatusRequestEntityTooLarge, "%s", authDetail(err))
	}
	return query.Errorf(query.CodeInternalError, http.StatusInternalServerError, "An internal error has occurred")
}

// authDetail is the verifier's message, which says what is wrong without leaking secrets.
func authDetail(err error) string { return err.Error() }

func badRequest(code, format string, args ...any) *query.Error {
	return query.Errorf(code, http.StatusBadRequest, format, args...)
}

func invalidParam(format string, args ...any) *query.Error {
	return badRequest(codeInvalidParameter, format, args...)
}

func notFound(code, kind, id string) *query.Error {
	return badRequest(code, "The %s ID '%s' does not exist", kind, id)
}

// apiError turns a Kubernetes API error from a write into what EC2 would say; anything it does not
// know is internal.
func apiError(err error, what string) error {
	switch {
	case apierrors.IsInvalid(err):
		return invalidParam("%s: %s", what, invalidCauses(err))
	case apierrors.IsForbidden(err):
		return query.Errorf(codeUnauthorized, http.StatusForbidden, "You are not authorized to perform this operation.")
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
