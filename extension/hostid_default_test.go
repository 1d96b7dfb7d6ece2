package extension

import "testing"

// Cases ported from azure-functions-host ScriptHostIdProviderTests.
func TestPlatformHostID(t *testing.T) {
	azure := func(site, instance string) map[string]string {
		return map[string]string{
			"WEBSITE_INSTANCE_ID": instance,
			"WEBSITE_SITE_NAME":   site,
			"CONTAINER_NAME":      "testContainer",
			"WEBSITE_HOSTNAME":    "testsite.azurewebsites.net",
		}
	}
	tests := []struct {
		name      string
		env       map[string]string
		want      string
		truncated bool
		ok        bool
	}{
		// GetDefaultHostId_AzureHost_ReturnsExpectedResult
		{"trailing dashes trimmed", azure("TEST-FUNCTIONS--", "123123"), "test-functions", false, true},
		{"cut to 32", azure("TEST-FUNCTIONS-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "123123"), "test-functions-xxxxxxxxxxxxxxxxx", true, true},
		{"32nd character is a dash", azure("TEST-FUNCTIONS-XXXXXXXXXXXXXXXX-XXXX", "123123"), "test-functions-xxxxxxxxxxxxxxxx", true, true},
		{"linux consumption uses the host name", azure("TEST-FUNCTIONS-XXXXXXXXXXXXXXXX-XXXX", ""), "testsite", false, true},
		{"no site name", azure("", "123123"), "", false, false},
		// GetDefaultHostId_FlexConsumption_ReturnsExpectedResult
		{"flex 1", map[string]string{"WEBSITE_SKU": "FlexConsumption", "WEBSITE_SITE_NAME": "myfunctionstestapp"}, "6606e225f163a70190e4f4357d3dad78", false, true},
		{"flex 2", map[string]string{"WEBSITE_SKU": "FlexConsumption", "WEBSITE_SITE_NAME": "TEST-FUNCTIONS-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}, "9dd2d6d54f1135ee6db6116f084b29bd", false, true},
		{"flex 3", map[string]string{"WEBSITE_SKU": "FlexConsumption", "WEBSITE_SITE_NAME": "TEST-FUNCTIONS-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXA"}, "c842e18afa2a84eac2818a956687a72e", false, true},
		{"flex 4", map[string]string{"WEBSITE_SKU": "FlexConsumption", "WEBSITE_SITE_NAME": "TEST-FUNCTIONS-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXB"}, "b595edd5b794d34e79c81361c823487c", false, true},
		// GetDefaultHostId_PlaceholderMode_ReturnsExpectedResult: no site name yet.
		{"placeholder", map[string]string{"WEBSITE_INSTANCE_ID": "123123"}, "", false, false},
		// GetDefaultHostId_PlaceholderMode_FlexConsumption_ReturnsExpectedResult
		{"placeholder flex", map[string]string{"CONTAINER_NAME": "testContainer", "LEGION_SERVICE_HOST": "legionhost"}, "", false, false},
		// GetDefaultHostId_SelfHost_ReturnsExpectedResult: locally azbind derives its own id.
		{"local", map[string]string{}, "", false, false},
		// EnvironmentExtensions.GetAzureWebsiteUniqueSlotName: a non-production slot is appended.
		{"slot", map[string]string{"WEBSITE_INSTANCE_ID": "1", "WEBSITE_SITE_NAME": "MyApp", "WEBSITE_SLOT_NAME": "Staging"}, "myapp-staging", false, true},
		{"production slot", map[string]string{"WEBSITE_INSTANCE_ID": "1", "WEBSITE_SITE_NAME": "MyApp", "WEBSITE_SLOT_NAME": "Production"}, "myapp", false, true},
		// IsAnyKubernetesEnvironment.
		{"kubernetes", map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "POD_NAMESPACE": "ns", "WEBSITE_SITE_NAME": "K8sApp"}, "k8sapp", false, true},
		{"managed environment", map[string]string{"MANAGED_ENVIRONMENT": "1", "CONTAINER_NAME": "c", "WEBSITE_SITE_NAME": "AcaApp"}, "acaapp", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, truncated, ok := platformHostID(func(k string) string { return tc.env[k] })
			if id != tc.want || truncated != tc.truncated || ok != tc.ok {
				t.Errorf("platformHostID = %q, %v, %v; want %q, %v, %v", id, truncated, ok, tc.want, tc.truncated, tc.ok)
			}
		})
	}
}
