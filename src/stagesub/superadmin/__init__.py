"""The platform console for superadmins (control side): orchestras and their provisioning."""
