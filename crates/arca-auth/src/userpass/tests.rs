//! Tests of the userpass method.
