//! File > New Virtual Machine: name, memory, vCPUs, a new disk in a pool
//! and a virtual network; defines the domain (it is started with Run).

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{Command, Connection, NetworkInfo, PoolInfo, PoolState, VolumeAs};
use hangar_core::xml::Element;
use relm4::prelude::*;

use crate::backend::{self, expect_reply, UiError};
use crate::widgets::{error_dialog, form::Form};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What the dialog starts with.
pub struct NewVmInit {
    /// Where the VM is created.
    pub connection: Connection,
    /// The app's settings (default storage format).
    pub settings: gio::Settings,
}

/// Messages to the dialog.
#[derive(Debug)]
pub enum NewVmInput {
    /// Create the VM.
    Create,
    /// Close.
    Cancel,
}

/// Backend answers.
#[derive(Debug)]
pub enum NewVmCommand {
    /// Pools and networks to choose from.
    Choices(Result<(Vec<PoolInfo>, Vec<NetworkInfo>), UiError>),
    /// Creating ended.
    Created(Result<(), UiError>),
}

/// The dialog's state.
pub struct NewVmDialog {
    connection: Connection,
    settings: gio::Settings,
    window: gtk4::Window,
    name: gtk4::Entry,
    memory: gtk4::SpinButton,
    vcpus: gtk4::SpinButton,
    disk: gtk4::SpinButton,
    pool: gtk4::DropDown,
    network: gtk4::DropDown,
    pools: Vec<String>,
    networks: Vec<String>,
    create: gtk4::Button,
}

impl Component for NewVmDialog {
    type Init = NewVmInit;
    type Input = NewVmInput;
    type Output = ();
    type CommandOutput = NewVmCommand;
    type Root = gtk4::Window;
    type Widgets = ();

    fn init_root() -> gtk4::Window {
        gtk4::Window::builder()
            .title(gettext("New Virtual Machine"))
            .modal(true)
            .default_width(460)
            .build()
    }

    fn init(
        init: NewVmInit,
        root: gtk4::Window,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let name = gtk4::Entry::builder().text("vm").hexpand(true).build();
        let memory = gtk4::SpinButton::with_range(64.0, 1_048_576.0, 64.0);
        memory.set_value(2048.0);
        let vcpus = gtk4::SpinButton::with_range(1.0, 256.0, 1.0);
        vcpus.set_value(2.0);
        let disk = gtk4::SpinButton::with_range(0.0, 65536.0, 1.0);
        disk.set_value(20.0);
        let pool = gtk4::DropDown::from_strings(&[]);
        let network = gtk4::DropDown::from_strings(&[]);
        let mut form = Form::new();
        form.field(&gettext("Name:"), &name);
        form.field(&gettext("Memory (MiB):"), &memory);
        form.field(&gettext("vCPUs:"), &vcpus);
        form.field(&gettext("Disk size (GiB):"), &disk);
        form.field(&gettext("Storage pool:"), &pool);
        form.field(&gettext("Network:"), &network);

        let cancel = crate::widgets::button(&gettext("_Cancel"));
        let create = crate::widgets::button(&gettext("C_reate"));
        create.add_css_class("suggested-action");
        create.set_sensitive(false);
        let s = sender.clone();
        cancel.connect_clicked(move |_| s.input(NewVmInput::Cancel));
        let s = sender.clone();
        create.connect_clicked(move |_| s.input(NewVmInput::Create));
        let buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
        buttons.set_halign(gtk4::Align::End);
        buttons.append(&cancel);
        buttons.append(&create);
        let content = gtk4::Box::new(gtk4::Orientation::Vertical, 12);
        content.set_margin_top(12);
        content.set_margin_bottom(18);
        content.set_margin_start(12);
        content.set_margin_end(18);
        content.append(form.grid());
        content.append(&buttons);
        root.set_child(Some(&content));

        let conn = init.connection.clone();
        sender.oneshot_command(async move {
            let result = async {
                let pools = expect_reply!(
                    backend::call(conn.clone(), Command::ListPools).await?,
                    Pools
                )?;
                let networks =
                    expect_reply!(backend::call(conn, Command::ListNetworks).await?, Networks)?;
                Ok((pools, networks))
            }
            .await;
            NewVmCommand::Choices(result)
        });
        let model = NewVmDialog {
            connection: init.connection,
            settings: init.settings,
            window: root.clone(),
            name,
            memory,
            vcpus,
            disk,
            pool,
            network,
            pools: Vec::new(),
            networks: Vec::new(),
            create,
        };
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, message: NewVmInput, sender: ComponentSender<Self>, _root: &gtk4::Window) {
        match message {
            NewVmInput::Cancel => self.window.close(),
            NewVmInput::Create => {
                let name = self.name.text().trim().to_string();
                if name.is_empty() || name.contains('/') {
                    error_dialog::show(
                        Some(&self.window),
                        &gettext("The virtual machine needs a name"),
                        &gettext("Names cannot be empty or contain “/”."),
                    );
                    return;
                }
                // Take text typed without leaving the fields.
                for spin in [&self.memory, &self.vcpus, &self.disk] {
                    spin.update();
                }
                let format = self.settings.string("new-vm-storage-format").to_string();
                let extension = if format == "raw" { "img" } else { "qcow2" };
                let disk_bytes = (self.disk.value() * GIB).round() as u64;
                let pool = self.pools.get(self.pool.selected() as usize).cloned();
                let network = self.networks.get(self.network.selected() as usize).cloned();
                let memory_kib = (self.memory.value() as u64) * 1024;
                let vcpus = self.vcpus.value() as u32;
                let conn = self.connection.clone();
                self.create.set_sensitive(false);
                sender.oneshot_command(async move {
                    let result = async {
                        let disk = match (&pool, disk_bytes) {
                            (Some(pool), bytes) if bytes > 0 => {
                                let volume = expect_reply!(
                                    backend::call(
                                        conn.clone(),
                                        Command::CreateVolumeAs {
                                            pool: pool.clone(),
                                            args: VolumeAs {
                                                name: format!("{name}.{extension}"),
                                                capacity: bytes,
                                                format: Some(format.clone()),
                                                ..VolumeAs::default()
                                            },
                                        },
                                    )
                                    .await?,
                                    Volume
                                )?;
                                Some((volume.path, format))
                            }
                            _ => None,
                        };
                        let xml = domain_xml(&name, memory_kib, vcpus, disk, network.as_deref());
                        backend::call(conn, Command::DefineDomain { xml }).await?;
                        Ok(())
                    }
                    .await;
                    NewVmCommand::Created(result)
                });
            }
        }
    }

    fn update_cmd(
        &mut self,
        message: NewVmCommand,
        _sender: ComponentSender<Self>,
        _root: &gtk4::Window,
    ) {
        match message {
            NewVmCommand::Choices(Ok((pools, networks))) => {
                self.pools = pools
                    .into_iter()
                    .filter(|p| p.state != PoolState::Inactive)
                    .map(|p| p.name)
                    .collect();
                self.networks = networks.into_iter().map(|n| n.name).collect();
                let pool_refs: Vec<&str> = self.pools.iter().map(String::as_str).collect();
                self.pool
                    .set_model(Some(&gtk4::StringList::new(&pool_refs)));
                let net_refs: Vec<&str> = self.networks.iter().map(String::as_str).collect();
                self.network
                    .set_model(Some(&gtk4::StringList::new(&net_refs)));
                if let Some(index) = self.pools.iter().position(|p| p == "default") {
                    self.pool.set_selected(index as u32);
                }
                if let Some(index) = self.networks.iter().position(|n| n == "default") {
                    self.network.set_selected(index as u32);
                }
                self.create.set_sensitive(true);
            }
            NewVmCommand::Choices(Err(error)) => error_dialog::show(
                Some(&self.window),
                &gettext("Cannot list pools and networks"),
                &error.details(),
            ),
            NewVmCommand::Created(Ok(())) => self.window.close(),
            NewVmCommand::Created(Err(error)) => {
                self.create.set_sensitive(true);
                error_dialog::show(
                    Some(&self.window),
                    &gettext("Cannot create the virtual machine"),
                    &error.details(),
                )
            }
        }
    }
}

/// A plain x86-64 KVM domain with one disk, one NIC and a VNC display.
fn domain_xml(
    name: &str,
    memory_kib: u64,
    vcpus: u32,
    disk: Option<(String, String)>,
    network: Option<&str>,
) -> String {
    let mut devices = Element::new("devices");
    if let Some((path, format)) = disk {
        devices.push(
            Element::new("disk")
                .with_attr("type", "file")
                .with_attr("device", "disk")
                .with_child(
                    Element::new("driver")
                        .with_attr("name", "qemu")
                        .with_attr("type", format),
                )
                .with_child(Element::new("source").with_attr("file", path))
                .with_child(
                    Element::new("target")
                        .with_attr("dev", "vda")
                        .with_attr("bus", "virtio"),
                ),
        );
    }
    if let Some(network) = network {
        devices.push(
            Element::new("interface")
                .with_attr("type", "network")
                .with_child(Element::new("source").with_attr("network", network))
                .with_child(Element::new("model").with_attr("type", "virtio")),
        );
    }
    devices.push(Element::new("console").with_attr("type", "pty"));
    devices.push(
        Element::new("graphics")
            .with_attr("type", "vnc")
            .with_attr("port", "-1")
            .with_attr("autoport", "yes"),
    );
    Element::new("domain")
        .with_attr("type", "kvm")
        .with_child(Element::new("name").with_text(name))
        .with_child(
            Element::new("memory")
                .with_attr("unit", "KiB")
                .with_text(memory_kib.to_string()),
        )
        .with_child(
            Element::new("currentMemory")
                .with_attr("unit", "KiB")
                .with_text(memory_kib.to_string()),
        )
        .with_child(Element::new("vcpu").with_text(vcpus.to_string()))
        .with_child(
            Element::new("os")
                .with_child(
                    Element::new("type")
                        .with_attr("arch", "x86_64")
                        .with_attr("machine", "q35")
                        .with_text("hvm"),
                )
                .with_child(Element::new("boot").with_attr("dev", "hd")),
        )
        .with_child(devices)
        .to_xml()
}
