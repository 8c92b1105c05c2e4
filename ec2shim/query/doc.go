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

// Package query is the wire layer of PiNet's EC2 Query API (version 2016-11-15): it parses
// requests, decodes their parameters into the input shapes handlers declare, evaluates Describe
// filters, pages results, and writes EC2's XML responses and errors.
//
// The EC2 protocol names an input member by its queryName, else its locationName with the first
// letter capitalised, else the member name (DryRun, ClientToken, BlockDeviceMapping). Lists are
// always flattened: InstanceId.1, Filter.1.Value.2, TagSpecification.1.Tag.1.Key. A handler
// mirrors the service model's input shape in a Go struct with `ec2` tags and calls
// Request.Decode; see Decode for the rules.
//
// A handler's flow:
//
//	req, err := query.Parse(r, maxBody)          // Action, Version, Params
//	var in describeInstancesInput                // Filters []query.Filter `ec2:"Filter,list"`, …
//	err = req.Decode(&in)
//	m, err := query.NewMatcher(in.Filters, knownFilterNames)
//	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
//	cur, err := tokens.Decode(req.PageScope()+"\x00"+account, in.NextToken)
//	…
//	query.WriteResponse(w, req.Action, requestID, out)  // or query.WriteError(w, query.ErrorFrom(err), requestID)
//
// Every client mistake is an *Error carrying the EC2 code and HTTP status; other errors are the
// server's and ErrorFrom turns them into an InternalError without leaking their text.
package query
