//! Compiles the protocol's `.proto` files with protox (pure Rust, no `protoc`) and generates the
//! prost messages and tonic clients/servers from the resulting descriptor set.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/sdk/plugin/pb/backend.proto",
        "proto/sdk/logical/identity.proto",
        "proto/sdk/logical/plugin.proto",
        "proto/sdk/logical/version.proto",
        "proto/sdk/helper/pluginutil/multiplexing.proto",
        "proto/plugin/grpc_broker.proto",
        "proto/plugin/grpc_controller.proto",
        "proto/plugin/grpc_stdio.proto",
        "proto/grpc/health/v1/health.proto",
        "proto/sdk/database/dbplugin/v5/proto/database.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
