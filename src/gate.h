/* The memory gate (method.md section 2, step 3): per layer and query head,
 *   g = sigmoid(w_h . x + b_h),  out = g * A_mem + (1 - g) * A_loc
 * head-scalar: x = [A_mem_h ; A_loc_h] (2d inputs per head);
 * layer-mix:   x = [A_mem_0 ; A_loc_0 ; A_mem_1 ; A_loc_1 ; ...] (2Hd inputs, all heads of the layer).
 * Stored as a small GGUF adapter (architecture "edgeinf-gate") that names the S/W/L/update rule it
 * was trained with and the identity of its base model. */
#ifndef EI_GATE_H
#define EI_GATE_H

#include "model.h"

struct ei_gate {
    ei_gate_type type;
    int n_layer, n_head, head_dim, in_dim;  /* in_dim: inputs per head's gate */
    int sink, window, chunk;
    ei_update_rule update;
    char base_name[128], base_id[17];
    char *source; /* the file it was loaded from (named in messages), NULL for ei_gate_new's */
    float *w;  /* [n_layer][n_head][in_dim] */
    float *b;  /* [n_layer][n_head] */
};

/* 0 when the gate fits the model and the session's S/W/L/update rule, else -1 with a message. */
int ei_gate_check(const ei_gate *g, const ei_model *m, const ei_session_params *p);

/* Gate value of head h for one token; a_mem and a_loc hold all heads ([H][hd]). */
float ei_gate_value(const ei_gate *g, int layer, int h, const float *a_mem, const float *a_loc);

/* att = g * a_mem + (1 - g) * att for every head of one token. With gate == NULL the constant
 * gconst is used. */
void ei_gate_blend(const ei_gate *g, float gconst, int layer, int H, int hd, const float *a_mem, float *att);

#endif
