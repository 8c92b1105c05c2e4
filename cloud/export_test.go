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

// SetAfterDeleteMark makes every DeleteSecurityGroup of s call f with the group's id between
// marking the group and checking its use (nil: nothing), so tests can act in that window.
func SetAfterDeleteMark(s *Service, f func(groupID string)) {
	s.afterDeleteMark = f
}
