"""GLSL programs of the OpenGL renderer (3.3 core).

One vertex shader feeds three fragment shaders: ``SURFACE`` (the colour pass: glTF
metallic-roughness under a light rig, or the evaluation protocol's Lambert model), ``GEOMETRY``
(depth and normal passes) and ``SHADOW`` (the contact shadow's ground quad). Colours are written
premultiplied by alpha so that multisample resolves and "over" blending stay correct on a
transparent background.
"""

# Every fragment shader receives the vertex shader's outputs.
_HEADER = """
#version 330 core
in vec3 v_world;
in vec3 v_view;
in vec3 v_normal;
in vec2 v_uv;
in vec4 v_tangent;
"""

VERTEX = """
#version 330 core
uniform mat4 u_view_projection;
uniform mat4 u_view;
in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
in vec4 in_tangent;
out vec3 v_world;
out vec3 v_view;
out vec3 v_normal;
out vec2 v_uv;
out vec4 v_tangent;
void main() {
    v_world = in_position;
    v_view = (u_view * vec4(in_position, 1.0)).xyz;
    v_normal = in_normal;
    v_uv = in_uv;
    v_tangent = in_tangent;
    gl_Position = u_view_projection * vec4(in_position, 1.0);
}
"""

# Shared by the surface and geometry passes: the shading normal in world space, flipped towards
# the viewer (two-sided), from the vertex normals (or the face's own where the mesh has none)
# and the tangent-space normal map.
_NORMAL = """
uniform bool u_has_normals;
uniform bool u_has_normal_map;
uniform sampler2D u_normal_map;
uniform vec3 u_eye;

// ``by_face``: flip when the face is seen from behind (back faces of open meshes); otherwise
// flip when the normal itself points away from the viewer, as the protocol's renderer does.
vec3 shading_normal(bool by_face) {
    vec3 face = normalize(cross(dFdx(v_world), dFdy(v_world)));
    vec3 n = u_has_normals ? normalize(v_normal) : face;
    if (u_has_normal_map) {
        vec3 t = normalize(v_tangent.xyz - n * dot(n, v_tangent.xyz));
        vec3 b = cross(n, t) * (v_tangent.w < 0.0 ? -1.0 : 1.0);
        vec3 m = texture(u_normal_map, v_uv).xyz * 2.0 - 1.0;
        n = normalize(m.x * t + m.y * b + m.z * n);
    }
    vec3 to_eye = u_eye - v_world;
    if (dot(by_face ? face : n, to_eye) < 0.0) { n = -n; }
    return n;
}
"""

_BASE = """
uniform vec4 u_base_factor;
uniform bool u_has_base_map;
uniform sampler2D u_base_map;
uniform int u_alpha_mode;  // 0 opaque, 1 mask, 2 blend
uniform float u_alpha_cutoff;

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c));
}
vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}
vec4 base_colour() {
    vec4 base = u_base_factor;
    if (u_has_base_map) {
        vec4 texel = texture(u_base_map, v_uv);
        base *= vec4(srgb_to_linear(texel.rgb), texel.a);
    }
    if (u_alpha_mode == 0) { base.a = 1.0; }
    if (u_alpha_mode == 1) {
        if (base.a < u_alpha_cutoff) { discard; }
        base.a = 1.0;
    }
    return base;
}
"""

SURFACE = (
    _HEADER
    + """
out vec4 out_colour;
"""
    + _NORMAL
    + _BASE
    + """
const int MAX_LIGHTS = 8;
const float PI = 3.14159265358979;
uniform int u_model;  // 0: metallic-roughness under the rig; 1: the protocol's Lambert
uniform mat3 u_view_rotation;  // world to camera
uniform int u_light_count;
uniform vec3 u_light_direction[MAX_LIGHTS];  // towards the light, camera space
uniform vec3 u_light_radiance[MAX_LIGHTS];
uniform vec3 u_sky;  // ambient from above and from below (world +Y), linear
uniform vec3 u_ground;
uniform float u_ambient;  // the protocol's flat ambient
uniform float u_exposure;
uniform float u_metallic;
uniform float u_roughness;
uniform bool u_has_orm_map;
uniform sampler2D u_orm_map;

float ggx(float n_h, float a) {
    float a2 = a * a;
    float d = n_h * n_h * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d);
}
float smith(float n_v, float n_l, float a) {
    float k = (a + 1.0) * (a + 1.0) / 8.0;
    return (n_v / (n_v * (1.0 - k) + k)) * (n_l / (n_l * (1.0 - k) + k));
}
// Split-sum environment BRDF, analytic fit (Karis, "Physically Based Shading on Mobile").
vec2 environment_brdf(float n_v, float roughness) {
    vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = roughness * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * n_v)) * r.x + r.y;
    return vec2(-1.04, 1.04) * a004 + r.zw;
}
vec3 tone_map(vec3 x) {  // ACES filmic fit (Narkowicz)
    return clamp((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
}

void main() {
    vec4 base = base_colour();
    vec3 n_world = shading_normal(u_model == 0);
    vec3 n = normalize(u_view_rotation * n_world);
    vec3 colour;
    if (u_model == 1) {
        float light = u_ambient;
        for (int i = 0; i < u_light_count; ++i) {
            light += u_light_radiance[i].r * max(0.0, dot(n, u_light_direction[i]));
        }
        colour = linear_to_srgb(base.rgb * light);
    } else {
        float metallic = u_metallic;
        float roughness = u_roughness;
        float occlusion = 1.0;
        if (u_has_orm_map) {
            vec3 orm = texture(u_orm_map, v_uv).rgb;
            occlusion = orm.r;
            roughness *= orm.g;
            metallic *= orm.b;
        }
        roughness = clamp(roughness, 0.04, 1.0);
        float a = roughness * roughness;
        vec3 v = normalize(-v_view);
        float n_v = max(dot(n, v), 1e-4);
        vec3 f0 = mix(vec3(0.04), base.rgb, metallic);
        vec3 diffuse_colour = base.rgb * (1.0 - metallic);
        vec3 result = vec3(0.0);
        for (int i = 0; i < u_light_count; ++i) {
            vec3 l = u_light_direction[i];
            float n_l = dot(n, l);
            if (n_l <= 0.0) { continue; }
            vec3 h = normalize(l + v);
            float v_h = max(dot(v, h), 0.0);
            vec3 fresnel = f0 + (1.0 - f0) * pow(1.0 - v_h, 5.0);
            float lobe = ggx(max(dot(n, h), 0.0), a) * smith(n_v, n_l, a);
            vec3 specular = fresnel * lobe / (4.0 * n_v * n_l + 1e-4);
            vec3 diffuse = (1.0 - fresnel) * diffuse_colour / PI;
            result += (diffuse + specular) * u_light_radiance[i] * n_l;
        }
        // Ambient: a sky-to-ground gradient for the diffuse part and its mean for reflections.
        vec3 ambient = mix(u_ground, u_sky, 0.5 + 0.5 * n_world.y);
        vec2 env = environment_brdf(n_v, roughness);
        vec3 reflection = mix(u_ground, u_sky, 0.5 + 0.5 * reflect(-v, n).y);
        result += occlusion * (ambient * diffuse_colour + reflection * (f0 * env.x + env.y));
        colour = linear_to_srgb(tone_map(result * u_exposure));
    }
    out_colour = vec4(colour * base.a, base.a);
}
"""
)

GEOMETRY = (
    _HEADER
    + """
layout(location = 0) out vec4 out_normal;
layout(location = 1) out float out_depth;
"""
    + _NORMAL
    + _BASE
    + """
void main() {
    vec4 base = base_colour();  // MASK cut-outs are holes in every pass
    out_normal = vec4(shading_normal(true), 1.0);
    out_depth = -v_view.z;
}
"""
)

COVERAGE = (
    _HEADER
    + """
out vec4 out_colour;
"""
    + _BASE
    + """
void main() {
    vec4 base = base_colour();  // discards MASK cut-outs
    out_colour = vec4(1.0);
}
"""
)

SHADOW = (
    _HEADER
    + """
uniform sampler2D u_shadow;
uniform float u_strength;
out vec4 out_colour;
void main() {
    float a = u_strength * texture(u_shadow, v_uv).r;
    out_colour = vec4(0.0, 0.0, 0.0, a);
}
"""
)

HEIGHT = (
    _HEADER
    + """
uniform float u_ground_y;
out float out_height;
void main() {
    out_height = v_world.y - u_ground_y;
}
"""
)
