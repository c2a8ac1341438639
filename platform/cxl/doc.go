// Package cxl models CXL type-3 memory expanders and the Linux CXL driver stack that brings them up.
package cxl
