//! The generated protobuf messages and gRPC services, one module per protobuf package.

#![allow(missing_docs, clippy::all)]

/// `pb`: the Backend service, and the Storage and SystemView services the host serves.
pub mod pb {
    tonic::include_proto!("pb");
}

/// `logical`: identity messages, the plugin environment and the PluginVersion service.
pub mod logical {
    tonic::include_proto!("logical");
}

/// `pluginutil.multiplexing`: the PluginMultiplexing service.
pub mod multiplexing {
    tonic::include_proto!("pluginutil.multiplexing");
}

/// `plugin`: go-plugin's GRPCBroker, GRPCController and GRPCStdio services.
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// `grpc.health.v1`: the standard health service.
pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

/// `dbplugin.v5`: the Database service of database plugins (protocol version 5).
pub mod dbplugin {
    tonic::include_proto!("dbplugin.v5");
}
